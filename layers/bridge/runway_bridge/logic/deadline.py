"""Deadlines for request paths that must answer in time (API Gateway closes a request at 29 s).

`Deadline` counts down one budget on a monotonic clock; every step of a submit reads what is left
of it. `run_bounded` runs a blocking call (a boto3 write cannot be interrupted) on a daemon thread
and lets the caller stop waiting at a bound: the call finishes, or fails, on its own afterwards.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeoutError
from typing import TypeVar

from runway_bridge.settings import BridgeSettings

T = TypeVar("T")


class Deadline:
    """A budget in seconds, counted from its creation on `monotonic`."""

    def __init__(self, budget_s: float, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._ends_at = monotonic() + budget_s

    def remaining(self) -> float:
        """Seconds left (negative once past)."""
        return self._ends_at - self._monotonic()


def request_budget_s(remaining_ms: int | None, settings: BridgeSettings) -> float | None:
    """Seconds a request may spend on its work before it must answer: the invocation's remaining
    time less the reserve for the answer, never more than `api_submit_budget_s` (API Gateway's own
    limit also counts the cold start). None without a Lambda context (the service default applies)."""
    if remaining_ms is None:
        return None
    left = remaining_ms / 1000.0 - settings.api_answer_reserve_s
    return max(0.0, min(settings.api_submit_budget_s, left))


def remaining_ms_of(context: object) -> int | None:
    """`context.get_remaining_time_in_millis()`, or None for a caller without a Lambda context."""
    getter = getattr(context, "get_remaining_time_in_millis", None)
    if getter is None:
        return None
    value = getter()
    return int(value) if isinstance(value, int | float) else None


def run_bounded(call: Callable[[], T], *, name: str) -> Future[T]:
    """Start `call` on a daemon thread; wait on the returned future with a timeout (see `wait`)."""
    future: Future[T] = Future()

    def target() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(call())
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on the future
            future.set_exception(exc)

    threading.Thread(target=target, name=name, daemon=True).start()
    return future


def wait(future: Future[T], timeout_s: float) -> tuple[bool, T | None]:
    """(True, result) when `future` finished within `timeout_s`; (False, None) otherwise. The
    call's own exception is raised as usual."""
    try:
        return True, future.result(timeout=max(timeout_s, 0.0))
    except FutureTimeoutError:
        return False, None
