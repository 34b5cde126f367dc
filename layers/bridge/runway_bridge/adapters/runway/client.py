"""Runway's REST API over httpx (sync: the Lambdas are sync).

Every call takes a budget (seconds the caller can still spend, e.g. what is left of API Gateway's
29 s): attempts, their timeouts and the waits between them all fit inside it, and when it runs out
(before an attempt, or the next wait does not fit) the last typed error (`runway_bridge.errors`) of a
real attempt is raised; a bare `RunwayTimeoutError` only when no attempt was made.

What is retried (exponential backoff with full jitter, Retry-After honoured when it fits):
- GET/DELETE of tasks and uploads: 429, 502, 503, 504, connection failures and timeouts.
- Creates: see `_may_resend_create`. A create that may have reached Runway is never resent.
Never retried: 400, 401, 404 and other 4xx (the same request gets the same answer).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from runway_bridge.errors import (
    RunwayAuthenticationError,
    RunwayConnectionError,
    RunwayError,
    RunwayNotFoundError,
    RunwayRateLimitedError,
    RunwayServerError,
    RunwaySubmissionUnknownError,
    RunwayTimeoutError,
    RunwayUnexpectedResponseError,
    RunwayValidationError,
)
from runway_bridge.models.operations import OPERATIONS, Operation
from runway_bridge.models.runway import (
    RUNWAY_API_VERSION,
    ErrorResponse,
    RunwayModel,
    Task,
    TaskCreatedResponse,
    UploadResponse,
    parse_task,
)
from runway_bridge.observability import logger, metrics
from runway_bridge.settings import get_settings

RETRYABLE_STATUSES: Final = frozenset({429, 502, 503, 504})
ERROR_TEXT_LIMIT: Final = 500

# Jitter only spreads retries in time; it protects nothing, so the non-crypto generator is right.
_jitter = random.Random()  # noqa: S311


@dataclass(frozen=True)
class _Budget:
    """The caller's time for one logical call, spread over its attempts and waits."""

    deadline: float
    clock: Callable[[], float]

    def remaining(self) -> float:
        return self.deadline - self.clock()


@dataclass(frozen=True)
class _AttemptFailure:
    """One failed attempt: the typed error, what caused it, and whether the request may have been
    processed by Runway (it was sent and no refusal came back)."""

    error: RunwayError
    cause: BaseException | None
    retryable: bool
    may_have_been_processed: bool


class RunwayClient:
    """Typed, budgeted access to Runway. Use as a context manager (it owns connection pools)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 20.0,
        max_attempts: int = 4,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 8.0,
        min_create_window_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._max_attempts = max_attempts
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        # A create is sent only when at least this much budget is left for Runway to answer:
        # a create cut off by our own budget would become "submission unknown" for nothing.
        self._min_create_window_s = min(min_create_window_s, read_timeout)
        self._sleep = sleep
        self._clock = clock
        headers = {"Authorization": f"Bearer {api_key}", "X-Runway-Version": RUNWAY_API_VERSION}
        # Every answer Runway gives is counted (RunwayGET/POST/DELETE, RunwayRateLimited for 429s).
        hooks = {"response": [_count_answer]}
        self._api = httpx.Client(base_url=base_url, headers=headers, transport=transport, event_hooks=hooks)
        # Creates go over a fresh connection each time: a pooled keep-alive connection that the
        # server closed while idle would break mid-request and turn a harmless race into a
        # "submission unknown" job.
        self._api_for_creates = httpx.Client(
            base_url=base_url,
            headers=headers,
            transport=transport,
            limits=httpx.Limits(max_keepalive_connections=0),
            event_hooks=hooks,
        )
        # Upload URLs point at a storage host, not Runway: the API key must never go there.
        self._storage = httpx.Client(transport=transport)

    @classmethod
    def from_settings(cls, api_key: str, **overrides: Any) -> RunwayClient:
        """A client configured from `BridgeSettings` (base URL, timeouts, attempts)."""
        settings = get_settings()
        options: dict[str, Any] = {
            "connect_timeout": settings.runway_connect_timeout_s,
            "read_timeout": settings.runway_read_timeout_s,
            "max_attempts": settings.runway_max_attempts,
        }
        options.update(overrides)
        return cls(settings.runway_base_url, api_key, **options)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._api.close()
        self._api_for_creates.close()
        self._storage.close()

    # --- Tasks ------------------------------------------------------------------------------

    def create_task(
        self,
        operation: Operation,
        body: RunwayModel | Mapping[str, Any],
        *,
        budget_s: float,
        retry_rate_limited: bool = True,
    ) -> str:
        """POST /v1/<operation>; returns Runway's task id.

        Raises RunwaySubmissionUnknownError when the create may have been accepted (the caller must
        not resend it). Any other RunwayError means Runway did not accept it. With
        `retry_rate_limited=False` a 429 is raised at once (the API path queues the job instead).
        """
        if operation not in OPERATIONS:
            raise ValueError(f"unknown Runway operation {operation!r}")
        payload = body.to_runway_json() if isinstance(body, RunwayModel) else dict(body)
        budget = self._budget(budget_s)
        label = f"POST /v1/{operation}"
        attempt = 0
        failure: _AttemptFailure | None = None
        while True:
            attempt += 1
            if budget.remaining() < self._min_create_window_s:
                # After a refused attempt (connect failure, 429) its error says more than the
                # budget; only a create that was never tried is "not sent" for lack of time.
                _raise_last(failure)
                raise RunwayTimeoutError(f"{label}: budget too short to send the create (not sent)")
            try:
                response = self._api_for_creates.post(
                    f"/v1/{operation}", json=payload, timeout=self._timeout(budget)
                )
            except httpx.RequestError as exc:
                failure = self._transport_failure(label, exc)
            else:
                failure = None if response.is_success else self._response_failure(label, response)
            if failure is None:
                return self._task_id_from(label, response)
            if not self._may_resend_create(failure, retry_rate_limited=retry_rate_limited):
                self._raise_create_failure(label, failure)
            self._wait_before_retry(label, attempt, failure, budget, reserve_s=self._min_create_window_s)

    @staticmethod
    def _may_resend_create(failure: _AttemptFailure, *, retry_rate_limited: bool) -> bool:
        # THE CREATE RULE. A create costs the user credits, and Runway has no idempotency key, so
        # it is resent only when Runway provably did not accept it:
        # - the connection was never established (ConnectError/ConnectTimeout/PoolTimeout:
        #   nothing was sent), or
        # - Runway answered 429 (refused; unless the caller asked not to wait on rate limits).
        # Everything else after the request may have been sent (read/write timeout, dropped
        # connection, RemoteProtocolError, ReadError, any 5xx) may have created a task: it becomes
        # RunwaySubmissionUnknownError in `_raise_create_failure` and is never resent.
        if failure.may_have_been_processed:
            return False
        if isinstance(failure.error, RunwayRateLimitedError):
            return retry_rate_limited
        return failure.retryable

    def _raise_create_failure(self, label: str, failure: _AttemptFailure) -> None:
        if failure.may_have_been_processed:
            logger.error(
                "Runway create may have been accepted; it will not be resent",
                extra={"request": label, "error": repr(failure.error)},
            )
            unknown = RunwaySubmissionUnknownError(
                f"{label}: the create may have reached Runway ({failure.error.message}); not resent",
                cause=failure.error,
            )
            raise unknown from failure.cause
        raise failure.error from failure.cause

    def _task_id_from(self, label: str, response: httpx.Response) -> str:
        try:
            return TaskCreatedResponse.model_validate(response.json()).id
        except (ValueError, ValidationError) as exc:
            # Runway said yes (2xx) but the task id is unreadable: the task exists and is charged.
            error = RunwayUnexpectedResponseError(
                f"{label}: accepted, but the answer has no readable task id",
                status_code=response.status_code,
            )
            error.__cause__ = exc
            raise RunwaySubmissionUnknownError(
                f"{label}: accepted but the task id is unknown", cause=error
            ) from exc

    def get_task(self, task_id: str, *, budget_s: float) -> Task:
        """GET /v1/tasks/{id}, parsed into the task variant of its status."""
        path = f"/v1/tasks/{quote(task_id, safe='')}"
        response = self._send_retrying("GET", path, budget=self._budget(budget_s))
        try:
            return parse_task(response.json())
        except (ValueError, ValidationError) as exc:
            raise RunwayUnexpectedResponseError(
                f"GET /v1/tasks/{{id}}: the answer is not a task: {_short(response.text)}",
                status_code=response.status_code,
            ) from exc

    def delete_task(self, task_id: str, *, budget_s: float) -> None:
        """DELETE /v1/tasks/{id}: cancels an unfinished task, deletes a finished one.

        A 404 after an earlier attempt that may have been processed means that attempt did the
        work (the task is gone): that is success, not an error.
        """
        path = f"/v1/tasks/{quote(task_id, safe='')}"
        self._send_retrying("DELETE", path, budget=self._budget(budget_s), not_found_after_retry_ok=True)

    # --- Uploads ----------------------------------------------------------------------------

    def create_upload(self, filename: str, *, budget_s: float) -> UploadResponse:
        """POST /v1/uploads: where and how to upload `filename` (ephemeral, usable for 24 h)."""
        return self._create_upload(filename, self._budget(budget_s))

    def upload_bytes(
        self,
        upload: UploadResponse,
        content: bytes,
        filename: str,
        content_type: str,
        *,
        budget_s: float,
    ) -> str:
        """Multipart POST of the upload's form fields plus `file` to its uploadUrl; returns the
        runway:// URI, valid as an input once this returns."""
        return self._upload_bytes(upload, content, filename, content_type, self._budget(budget_s))

    def upload(self, filename: str, content: bytes, content_type: str, *, budget_s: float) -> str:
        """Both upload steps within one budget; returns the runway:// URI."""
        budget = self._budget(budget_s)
        upload = self._create_upload(filename, budget)
        return self._upload_bytes(upload, content, filename, content_type, budget)

    def _create_upload(self, filename: str, budget: _Budget) -> UploadResponse:
        response = self._send_retrying(
            "POST", "/v1/uploads", budget=budget, json={"filename": filename, "type": "ephemeral"}
        )
        try:
            return UploadResponse.model_validate(response.json())
        except (ValueError, ValidationError) as exc:
            raise RunwayUnexpectedResponseError(
                f"POST /v1/uploads: the answer is not an upload: {_short(response.text)}",
                status_code=response.status_code,
            ) from exc

    def _upload_bytes(
        self, upload: UploadResponse, content: bytes, filename: str, content_type: str, budget: _Budget
    ) -> str:
        self._send_retrying(
            "POST",
            upload.upload_url,
            budget=budget,
            client=self._storage,
            label="POST <uploadUrl>",
            data=upload.fields,
            files={"file": (filename, content, content_type)},
        )
        return upload.runway_uri

    # --- The retry loop of everything but creates -------------------------------------------

    def _send_retrying(
        self,
        method: str,
        url: str,
        *,
        budget: _Budget,
        client: httpx.Client | None = None,
        label: str | None = None,
        not_found_after_retry_ok: bool = False,
        **request: Any,
    ) -> httpx.Response:
        http = client or self._api
        label = label or f"{method} {url}"
        earlier_attempt_may_have_worked = False
        attempt = 0
        failure: _AttemptFailure | None = None
        while True:
            attempt += 1
            if budget.remaining() <= 0:
                # The wait fitted, but the clock ran on (a busy machine oversleeps): the last
                # answer Runway gave is still the truth the caller needs.
                _raise_last(failure)
                raise RunwayTimeoutError(f"{label}: no budget left for a request")
            try:
                response = http.request(method, url, timeout=self._timeout(budget), **request)
            except httpx.RequestError as exc:
                failure = self._transport_failure(label, exc)
            else:
                if response.is_success:
                    return response
                if (
                    response.status_code == 404
                    and not_found_after_retry_ok
                    and earlier_attempt_may_have_worked
                ):
                    logger.info("Runway: already done by an earlier attempt", extra={"request": label})
                    return response
                failure = self._response_failure(label, response)
            if not failure.retryable:
                raise failure.error from failure.cause
            earlier_attempt_may_have_worked |= failure.may_have_been_processed
            self._wait_before_retry(label, attempt, failure, budget, reserve_s=0.0)

    # --- Shared pieces ----------------------------------------------------------------------

    def _budget(self, budget_s: float) -> _Budget:
        return _Budget(deadline=self._clock() + budget_s, clock=self._clock)

    def _timeout(self, budget: _Budget) -> httpx.Timeout:
        """Each attempt's timeouts, clipped to what is left of the budget."""
        remaining = max(budget.remaining(), 0.001)
        connect = min(self._connect_timeout, remaining)
        read = min(self._read_timeout, remaining)
        return httpx.Timeout(connect=connect, read=read, write=read, pool=connect)

    def _wait_before_retry(
        self, label: str, attempt: int, failure: _AttemptFailure, budget: _Budget, *, reserve_s: float
    ) -> None:
        """Sleep before the next attempt, or raise the last error when no attempt is left or the
        wait (plus `reserve_s` for the next attempt) does not fit in the budget."""
        if attempt >= self._max_attempts:
            raise failure.error from failure.cause
        cap = min(self._backoff_max_s, self._backoff_base_s * 2 ** (attempt - 1))
        delay = _jitter.uniform(0.0, cap)
        if failure.error.retry_after_s is not None:
            delay = max(delay, failure.error.retry_after_s)
        if delay + reserve_s >= budget.remaining():
            raise failure.error from failure.cause
        logger.warning(
            "Runway request failed; retrying",
            extra={
                "request": label,
                "attempt": attempt,
                "error": repr(failure.error),
                "delay_s": round(delay, 3),
            },
        )
        self._sleep(delay)

    def _transport_failure(self, label: str, exc: httpx.RequestError) -> _AttemptFailure:
        """Classify an httpx error: was anything sent, and is it worth another attempt?"""
        if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
            # Never connected (or never got a pooled connection): nothing was sent.
            error: RunwayError = RunwayTimeoutError(f"{label}: could not connect in time ({exc!r})")
            return _AttemptFailure(error, exc, retryable=True, may_have_been_processed=False)
        if isinstance(exc, httpx.ConnectError):
            error = RunwayConnectionError(f"{label}: could not connect ({exc!r})")
            return _AttemptFailure(error, exc, retryable=True, may_have_been_processed=False)
        if isinstance(exc, httpx.UnsupportedProtocol):
            error = RunwayConnectionError(f"{label}: unusable URL ({exc!r})")
            return _AttemptFailure(error, exc, retryable=False, may_have_been_processed=False)
        if isinstance(exc, httpx.TimeoutException):
            error = RunwayTimeoutError(f"{label}: no answer in time ({exc!r})")
        else:
            error = RunwayConnectionError(f"{label}: connection broke before a full answer ({exc!r})")
        return _AttemptFailure(error, exc, retryable=True, may_have_been_processed=True)

    def _response_failure(self, label: str, response: httpx.Response) -> _AttemptFailure:
        status = response.status_code
        message, code = _error_message(response)
        text = f"{label}: {status} {message}"
        error: RunwayError
        if status == 400:
            error = RunwayValidationError(message, code=code)
        elif status == 401:
            error = RunwayAuthenticationError(text, status_code=status)
        elif status == 404:
            error = RunwayNotFoundError(text, status_code=status)
        elif status == 429:
            error = RunwayRateLimitedError(text, status_code=status, retry_after_s=_retry_after_s(response))
        elif status >= 500:
            error = RunwayServerError(text, status_code=status, retry_after_s=_retry_after_s(response))
        else:
            error = RunwayUnexpectedResponseError(text, status_code=status)
        return _AttemptFailure(
            error,
            None,
            retryable=status in RETRYABLE_STATUSES,
            # A 4xx is Runway refusing the request; after a 5xx nobody knows what happened.
            may_have_been_processed=status >= 500,
        )


def _count_answer(response: httpx.Response) -> None:
    metrics.add_metric(name=f"Runway{response.request.method}", unit="Count", value=1)
    if response.status_code == 429:
        metrics.add_metric(name="RunwayRateLimited", unit="Count", value=1)


def _raise_last(failure: _AttemptFailure | None) -> None:
    """Raise the typed error of the last real attempt, if there was one."""
    if failure is not None:
        raise failure.error from failure.cause


def _error_message(response: httpx.Response) -> tuple[str, str | None]:
    """Runway's `{"error", "code"}` when the body has it, else the start of the body."""
    try:
        body = ErrorResponse.model_validate(response.json())
    except (ValueError, ValidationError):
        return _short(response.text) or response.reason_phrase, None
    return body.error, body.code


def _retry_after_s(response: httpx.Response) -> float | None:
    """Retry-After as seconds from now; it may be a number of seconds or an HTTP date."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def _short(text: str) -> str:
    return text[:ERROR_TEXT_LIMIT].strip()
