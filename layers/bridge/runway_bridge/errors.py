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
