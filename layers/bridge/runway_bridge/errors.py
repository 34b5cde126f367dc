"""Typed domain errors. Adapters turn SDK/HTTP failures into these (always `raise ... from exc`), so
logic/ and handlers decide on meaning ("may this create have reached Runway?") rather than on
httpx or botocore exception classes.
"""

from __future__ import annotations


class RunwayError(Exception):
    """Base of every error talking to Runway.

    `status_code` is Runway's HTTP status when it answered; `retry_after_s` its Retry-After, if any.
    """

    def __init__(
        self, message: str, *, status_code: int | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.retry_after_s = retry_after_s


class RunwayAuthenticationError(RunwayError):
    """401: the API key is missing, wrong or revoked. Retrying cannot help."""


class RunwayValidationError(RunwayError):
    """400: Runway refused the request. Carries Runway's readable message and machine code."""

    def __init__(self, message: str, *, code: str | None = None, status_code: int | None = 400) -> None:
        super().__init__(message, status_code=status_code)
        self.code = code


class RunwayNotFoundError(RunwayError):
    """404: no such task (never existed, or deleted)."""


class RunwayRateLimitedError(RunwayError):
    """429: too many requests or the daily cap is reached; `retry_after_s` when Runway said when."""


class RunwayServerError(RunwayError):
    """5xx answered by Runway (or a proxy in front of it)."""


class RunwayTimeoutError(RunwayError):
    """No answer within the timeout or the caller's budget."""


class RunwayConnectionError(RunwayError):
    """The connection could not be made, or broke before a complete answer arrived."""


class RunwayUnexpectedResponseError(RunwayError):
    """Runway answered something this code cannot use (an unhandled status, a body that is not the
    documented shape). Not retried: repeating the request would get the same answer."""


class RunwaySubmissionUnknownError(RunwayError):
    """A create that may have reached Runway: the task may exist and may be charged.

    The caller must NOT send the create again (a duplicate costs the user credits); it records the
    job as submission-unknown and tells the user. `cause` is the typed error that made it unknown.
    """

    def __init__(self, message: str, *, cause: RunwayError) -> None:
        super().__init__(message, status_code=cause.status_code, retry_after_s=cause.retry_after_s)
        self.cause = cause


# --- Bridge domain errors ------------------------------------------------------------------
# Raised by logic/ and adapters/; handlers map `http_status` and `code` to the `{"error", "code"}`
# body. Messages are safe to show the caller (no internals, no secrets).


class BridgeError(Exception):
    """Base of the bridge's own errors: a caller-facing message, a machine code, an HTTP status."""

    http_status: int = 500
    default_code: str = "internal_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code


class InvalidRequestError(BridgeError):
    """400: the body, a query parameter or a bridge field breaks a constraint. Nothing was stored."""

    http_status = 400
    default_code = "invalid_request"


class OutputLinkRefusedError(BridgeError):
    """403: a stable output link whose signature is wrong or whose time is up."""

    http_status = 403
    default_code = "link_invalid"


class CallbackUrlRefusedError(InvalidRequestError):
    """400: the callback URL is not allowed (scheme, or it resolves to a private/reserved address).
    `reason` says which rule refused it."""

    default_code = "callback_url_refused"

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class InputRefusedError(InvalidRequestError):
    """400: an `s3://` input the bridge will not send (`code` says why: s3_bucket_not_allowed,
    s3_input_not_found, s3_input_forbidden, s3_input_too_large, s3_input_wrong_type). Nothing was
    stored or sent to Runway."""

    default_code = "s3_input_refused"


class NotFoundError(BridgeError):
    """404: no such job for this tenant (another tenant's job id answers the same)."""

    http_status = 404
    default_code = "not_found"


class IdempotencyConflictError(BridgeError):
    """409: the same Idempotency-Key is still being submitted by another request; retry later."""

    http_status = 409
    default_code = "idempotency_conflict"


class IdempotencyMismatchError(BridgeError):
    """422: the Idempotency-Key was already used with a different request body."""

    http_status = 422
    default_code = "idempotency_key_reused"


class RateLimitedError(BridgeError):
    """429: Runway (or the bridge) asks the caller to slow down; `retry_after_s` when known."""

    http_status = 429
    default_code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class DailyLimitExceededError(RateLimitedError):
    """429: the tenant reached one of its daily limits; nothing was stored or sent. `Retry-After`
    says when the UTC day ends; `code` names the limit (daily_jobs_limit, ...)."""

    def __init__(self, message: str, *, code: str, retry_after_s: float) -> None:
        super().__init__(message, retry_after_s=retry_after_s)
        self.code = code


class UpstreamUnavailableError(BridgeError):
    """502: Runway could not be reached for a call that records nothing (uploads, a cancel at
    Runway). Never raised once a job was recorded by a create: that outcome is the job's status."""

    http_status = 502
    default_code = "upstream_unavailable"


class StoreConditionFailedError(Exception):
    """A conditional DynamoDB write was refused (lost race, wrong expected status/version, the item
    exists already). Internal: logic/ decides what it means for the caller."""


class UsageLimitReachedError(Exception):
    """A job's charge would break its tenant's daily limit: the job was not written (internal;
    logic/ names the limit to the caller)."""


class TenantAtCapacityError(Exception):
    """The tenant has no in-flight place left: the job was not moved (it stays QUEUED)."""


class RunwayAtCapacityError(Exception):
    """Jobs of all tenants hold every place Runway runs at once (`runway_max_in_flight`): the job
    was not moved (it stays QUEUED)."""


class StoreUnavailableError(Exception):
    """DynamoDB/S3/Secrets Manager failed after the SDK's own retries (throttling, 5xx, network)."""


class InputObjectMissingError(Exception):
    """HeadObject of an `s3://` input answered 404: no such object (or bucket)."""


class InputObjectForbiddenError(Exception):
    """HeadObject of an `s3://` input was refused (403, or another 4xx such as a bucket in another
    region): the bridge's role cannot read it. Without s3:ListBucket, S3 answers a missing key 403
    too, so this may also mean the object does not exist."""


class PollerStartError(Exception):
    """Step Functions refused or failed to start a poller run (the minute tick still comes)."""


# --- Output copies (Runway output URL -> S3) -----------------------------------------------


class OutputCopyError(Exception):
    """Base of the errors copying one Runway output into S3. `retryable`: trying again (same URL,
    after a pause) may succeed."""

    retryable: bool = False

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        if retryable is not None:
            self.retryable = retryable


class OutputExpiredError(OutputCopyError):
    """403/404 from an output URL: its signature expired (or the task was deleted). The caller
    GETs the task again for fresh URLs; the same URL will never work again."""


class OutputFetchError(OutputCopyError):
    """The download failed: connection, timeout, a 5xx/429, a body cut short (retryable), or an
    answer that will not change (other 4xx: not retryable)."""


class OutputUrlRefusedError(OutputFetchError):
    """An output URL (or a redirect from it) failed the address guard: not https, or not a public
    address. Nothing was fetched; the same URL will be refused again."""

    retryable = False


class ObjectStoreError(OutputCopyError):
    """S3 refused or failed a call of the copy after botocore's own retries."""
