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
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

log = logging.getLogger(__name__)

_RATE = re.compile(r"^rate\(\s*(?P<value>\d+)\s+(?P<unit>minutes?|hours?|days?)\s*\)$")
_CRON = re.compile(r"^cron\((?P<fields>[^)]*)\)$")
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
        """Seconds between runs for rate(); None for at() and cron() (see `next_run`)."""
        rate = _RATE.match(self.expression)
        if rate:
            return int(rate.group("value")) * _UNIT_SECONDS[rate.group("unit").rstrip("s")]
        if _AT.match(self.expression):
            return None
        if _CRON.match(self.expression):
            self.cron()  # validate now, naming the schedule
            return None
        raise UnsupportedSchedule(
            f"schedule {self.logical_id}: {self.expression!r} is not rate(), at() or cron()"
        )

    def cron(self) -> CronExpression | None:
        match = _CRON.match(self.expression)
        if not match:
            return None
        try:
            return CronExpression.parse(match.group("fields"))
        except ValueError as exc:
            raise UnsupportedSchedule(f"schedule {self.logical_id}: {self.expression!r}: {exc}") from exc

    def at_time(self) -> datetime | None:
        match = _AT.match(self.expression)
        return datetime.fromisoformat(match.group("when")).replace(tzinfo=UTC) if match else None

    def next_run(self, after: datetime) -> datetime | None:
        """The first run strictly after `after` (UTC), or None when there is none."""
        period = self.period_s()
        if period is not None:
            return after + timedelta(seconds=period)
        at = self.at_time()
        if at is not None:
            return at if at > after else None
        cron = self.cron()
        return cron.next_after(after) if cron else None


_MONTHS = {
    name: index + 1
    for index, name in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    )
}
# EventBridge numbers days of the week 1 (SUN) to 7 (SAT).
_WEEKDAYS = {name: index + 1 for index, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}
_CRON_SEARCH_DAYS = 366 * 5


def _cron_field(
    text: str, low: int, high: int, names: Mapping[str, int] | None = None
) -> frozenset[int] | None:
    """Values of one cron field; None for `?` or `*` (no restriction)."""
    if text in {"*", "?"}:
        return None
    values: set[int] = set()
    for part in text.split(","):
        if any(marker in part for marker in ("L", "W", "#")) and not (names and part.upper() in names):
            raise ValueError(f"{part!r}: L, W and # are not emulated")
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1

        def number(token: str) -> int:
            token = token.upper()
            return names[token] if names and token in names else int(token)

        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, last = base.split("-", 1)
            start, end = number(first), number(last)
        else:
            start = number(base)
            end = high if step_text else start
        if not (low <= start <= high and low <= end <= high) or step < 1:
            raise ValueError(f"{part!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class CronExpression:
    """EventBridge's six-field cron (minutes hours day-of-month month day-of-week year), in UTC."""

    minutes: frozenset[int] | None
    hours: frozenset[int] | None
    days_of_month: frozenset[int] | None
    months: frozenset[int] | None
    days_of_week: frozenset[int] | None
    years: frozenset[int] | None

    @classmethod
    def parse(cls, fields_text: str) -> CronExpression:
        fields = fields_text.split()
        if len(fields) != 6:
            raise ValueError("cron() takes six fields: minutes hours day-of-month month day-of-week year")
        return cls(
            minutes=_cron_field(fields[0], 0, 59),
            hours=_cron_field(fields[1], 0, 23),
            days_of_month=_cron_field(fields[2], 1, 31),
            months=_cron_field(fields[3], 1, 12, _MONTHS),
            days_of_week=_cron_field(fields[4], 1, 7, _WEEKDAYS),
            years=_cron_field(fields[5], 1970, 2199),
        )

    def _day_matches(self, day: datetime) -> bool:
        weekday = (day.isoweekday() % 7) + 1  # Monday=1 in ISO; EventBridge: Sunday=1
        return (
            (self.years is None or day.year in self.years)
            and (self.months is None or day.month in self.months)
            and (self.days_of_month is None or day.day in self.days_of_month)
            and (self.days_of_week is None or weekday in self.days_of_week)
        )

    def next_after(self, after: datetime) -> datetime | None:
        start = after.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        hours = sorted(self.hours) if self.hours is not None else list(range(24))
        minutes = sorted(self.minutes) if self.minutes is not None else list(range(60))
        day = start.replace(hour=0, minute=0)
        for _ in range(_CRON_SEARCH_DAYS):
            if self._day_matches(day):
                for hour in hours:
                    for minute in minutes:
                        candidate = day.replace(hour=hour, minute=minute)
                        if candidate >= start:
                            return candidate
            day += timedelta(days=1)
        return None


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

    def _first_run(self, spec: ScheduleSpec, now: datetime) -> datetime | None:
        if self._interval_s is not None:
            return now + timedelta(seconds=self._interval_s)
        return spec.next_run(now)

    def _following_run(self, spec: ScheduleSpec, due: datetime) -> datetime | None:
        now = datetime.now(UTC)
        period_s = self._interval_s if self._interval_s is not None else spec.period_s()
        if period_s is None:
            return spec.next_run(max(due, now))
        following = due + timedelta(seconds=period_s)
        while following < now:  # skip ticks missed while a firing took long, like a real clock
            following += timedelta(seconds=period_s)
        return following

    def _run(self) -> None:
        now = datetime.now(UTC)
        next_runs: dict[str, datetime] = {}
        for logical_id, spec in self._schedules.items():
            first = self._first_run(spec, now) if spec.enabled else None
            if first is not None:
                next_runs[logical_id] = first
        while next_runs and not self._stop.is_set():
            logical_id, due = min(next_runs.items(), key=lambda item: item[1])
            if self._stop.wait(max(0.0, (due - datetime.now(UTC)).total_seconds())):
                return
            try:
                self.fire_now(logical_id, wait=False)
            except Exception as exc:  # one failing target must not stop the others
                log.exception("schedule %s failed", logical_id)
                with self._lock:
                    self.errors.append((logical_id, str(exc)))
            following = self._following_run(self._schedules[logical_id], due)
            if following is None:
                del next_runs[logical_id]
            else:
                next_runs[logical_id] = following

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
