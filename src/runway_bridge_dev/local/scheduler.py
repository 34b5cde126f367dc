"""EventBridge Scheduler, locally: moto stores schedules but never fires them.

Each `AWS::Scheduler::Schedule` of the template fires its target at the schedule's rate (or every
`interval_s` when a test asks), or on `fire_now(logical_id)`. Targets: a Step Functions state machine
(StartExecution with a unique name), a Lambda function (run in-process, asynchronously like the real
service), an SQS queue or an SNS topic. `Input` is passed as is, with Scheduler's context attributes
(`<aws.scheduler.execution-id>` ...) filled in.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

log = logging.getLogger(__name__)

_RATE = re.compile(r"^rate\(\s*(?P<value>\d+)\s+(?P<unit>minutes?|hours?|days?)\s*\)$")
_AT = re.compile(r"^at\((?P<when>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
# Execution names: at most 80 characters.
_EXECUTION_NAME_LIMIT = 80


class FunctionInvoker(Protocol):
    def invoke(self, name_or_arn: str, event: dict[str, Any], *, timeout_s: float | None = None) -> Any: ...


class UnsupportedSchedule(Exception):
    """A schedule expression or target this local scheduler cannot fire."""


class ClientFactory(Protocol):
    def __call__(self, service: str) -> Any: ...


@dataclass(frozen=True)
class ScheduleSpec:
    logical_id: str
    name: str
    arn: str
    expression: str
    target_arn: str
    target_input: str | None
    enabled: bool = True
    message_group_id: str | None = None

    @classmethod
    def from_properties(
        cls, logical_id: str, properties: Mapping[str, Any], *, region: str, account_id: str
    ) -> ScheduleSpec:
        """Build from the resolved CloudFormation properties of the schedule."""
        target = properties["Target"]
        name = str(properties.get("Name") or logical_id)
        group = str(properties.get("GroupName") or "default")
        return cls(
            logical_id=logical_id,
            name=name,
            arn=f"arn:aws:scheduler:{region}:{account_id}:schedule/{group}/{name}",
            expression=str(properties["ScheduleExpression"]).strip(),
            target_arn=str(target["Arn"]),
            target_input=target.get("Input"),
            enabled=str(properties.get("State", "ENABLED")).upper() == "ENABLED",
            message_group_id=(target.get("SqsParameters") or {}).get("MessageGroupId"),
        )

    def period_s(self) -> float | None:
        """Seconds between runs for rate(); None for a one-time at()."""
        rate = _RATE.match(self.expression)
        if rate:
            return int(rate.group("value")) * _UNIT_SECONDS[rate.group("unit").rstrip("s")]
        if _AT.match(self.expression):
            return None
        raise UnsupportedSchedule(
            f"schedule {self.logical_id}: {self.expression!r} (rate() and at() are emulated; for cron() "
            "pass an interval override)"
        )

    def at_time(self) -> datetime | None:
        match = _AT.match(self.expression)
        return datetime.fromisoformat(match.group("when")).replace(tzinfo=UTC) if match else None


@dataclass(frozen=True)
class FireResult:
    """What one firing did: an execution ARN, a message id, or the function's answer."""

    logical_id: str
    target_arn: str
    detail: Any


def _service_of(arn: str) -> str:
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn":
        raise UnsupportedSchedule(f"target {arn!r} is not an ARN")
    return parts[2]


class LocalScheduler:
    """Fires the template's schedules; `start()` runs the clock, `fire_now()` works either way."""

    def __init__(
        self,
        schedules: list[ScheduleSpec],
        *,
        client: ClientFactory,
        invoker: FunctionInvoker,
        queue_url_for_arn: Callable[[str], str],
        interval_s: float | None = None,
    ) -> None:
        self._schedules = {spec.logical_id: spec for spec in schedules}
        self._client = client
        self._invoker = invoker
        self._queue_url_for_arn = queue_url_for_arn
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Lambda targets are invoked asynchronously: the clock never waits for a handler.
        self._async = concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="scheduler-lambda")
        self._lock = threading.Lock()
        self.fired: list[FireResult] = []
        self.errors: list[tuple[str, str]] = []
        for spec in schedules:
            _service_of(spec.target_arn)
            if _service_of(spec.target_arn) not in {"states", "lambda", "sqs", "sns"}:
                raise UnsupportedSchedule(
                    f"schedule {spec.logical_id}: target {spec.target_arn} (Step Functions, Lambda, SQS "
                    "and SNS targets are emulated)"
                )
            if interval_s is None:
                spec.period_s()  # fail at start, naming the schedule, not at its first tick

    @property
    def schedules(self) -> Mapping[str, ScheduleSpec]:
        return self._schedules

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="local-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._async.shutdown(wait=True, cancel_futures=True)

    def _next_runs(self, now: float) -> dict[str, float]:
        runs: dict[str, float] = {}
        for logical_id, spec in self._schedules.items():
            if not spec.enabled:
                continue
            if self._interval_s is not None:
                runs[logical_id] = now + self._interval_s
                continue
            period = spec.period_s()
            if period is not None:
                runs[logical_id] = now + period
                continue
            at = spec.at_time()
            if at is not None and at.timestamp() > time.time():
                runs[logical_id] = now + (at.timestamp() - time.time())
        return runs

    def _run(self) -> None:
        next_runs = self._next_runs(time.monotonic())
        while next_runs and not self._stop.is_set():
            logical_id, due = min(next_runs.items(), key=lambda item: item[1])
            if self._stop.wait(max(0.0, due - time.monotonic())):
                return
            try:
                self.fire_now(logical_id, wait=False)
            except Exception as exc:  # one failing target must not stop the others
                log.exception("schedule %s failed", logical_id)
                with self._lock:
                    self.errors.append((logical_id, str(exc)))
            period = (
                self._interval_s if self._interval_s is not None else self._schedules[logical_id].period_s()
            )
            if period is None:
                del next_runs[logical_id]
            else:
                # Keep the cadence even if a firing took time; skip missed ticks like a real clock.
                next_due = due + period
                while next_due <= time.monotonic():
                    next_due += period
                next_runs[logical_id] = next_due

    def _input(self, spec: ScheduleSpec, execution_id: str, scheduled: datetime) -> str:
        text = spec.target_input if spec.target_input is not None else "{}"
        replacements = {
            "<aws.scheduler.schedule-arn>": spec.arn,
            "<aws.scheduler.scheduled-time>": scheduled.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "<aws.scheduler.execution-id>": execution_id,
            "<aws.scheduler.attempt-number>": "1",
        }
        for placeholder, value in replacements.items():
            text = text.replace(placeholder, value)
        return text

    def fire_now(self, logical_id: str, *, wait: bool = True) -> FireResult:
        """Fire one schedule's target now. For a Lambda target, `wait` returns its answer."""
        spec = self._schedules.get(logical_id)
        if spec is None:
            raise KeyError(f"no schedule {logical_id!r}; known: {sorted(self._schedules)}")
        execution_id = str(uuid.uuid4())
        payload = self._input(spec, execution_id, datetime.now(UTC))
        service = _service_of(spec.target_arn)
        detail: Any
        if service == "states":
            name = f"{spec.name}-{execution_id}"[-_EXECUTION_NAME_LIMIT:]
            response = self._client("stepfunctions").start_execution(
                stateMachineArn=spec.target_arn, name=name, input=payload
            )
            detail = response["executionArn"]
        elif service == "lambda":
            event = json.loads(payload)
            future = self._async.submit(self._invoke_lambda, spec, event)
            detail = future.result() if wait else None
        elif service == "sqs":
            extra = {"MessageGroupId": spec.message_group_id} if spec.message_group_id else {}
            response = self._client("sqs").send_message(
                QueueUrl=self._queue_url_for_arn(spec.target_arn), MessageBody=payload, **extra
            )
            detail = response["MessageId"]
        else:
            detail = self._client("sns").publish(TopicArn=spec.target_arn, Message=payload)["MessageId"]
        result = FireResult(logical_id, spec.target_arn, detail)
        with self._lock:
            self.fired.append(result)
        return result

    def _invoke_lambda(self, spec: ScheduleSpec, event: Any) -> Any:
        try:
            return self._invoker.invoke(spec.target_arn, event)
        except Exception as exc:
            log.warning("schedule %s: %s failed: %s", spec.logical_id, spec.target_arn, exc)
            with self._lock:
                self.errors.append((spec.logical_id, str(exc)))
            raise
