"""`FakeJobStore`: the jobs table in memory, with `DynamoJobStore`'s conditions and counters.

What it mirrors (adapters/jobs/store.py): every write names the status and version it replaces
(`StoreConditionFailedError` otherwise); a status change and its side effects (the tenant's and the
bridge's in-flight counters, the daily charge given back, the queue roster, the outbox event) land
together or not at all; a refused in-flight place is `TenantAtCapacityError` /
`RunwayAtCapacityError`, a refused daily charge `UsageLimitReachedError`, with nothing written.
Leases change no version. QUEUED jobs wait in their tenant's queue, not in the due list.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from runway_bridge.errors import (
    InvalidRequestError,
    RunwayAtCapacityError,
    StoreConditionFailedError,
    StoreUnavailableError,
    TenantAtCapacityError,
    UsageLimitReachedError,
)
from runway_bridge.models.job import Job, JobStatus, can_transition, is_terminal, status_history_after
from runway_bridge.models.outbox import OutboxEvent
from runway_bridge.models.records import DeliveryAttempt, EventMarker, JobKind, JobPage, StreamChange
from runway_bridge.models.tenant import DailyUsage, TenantLimits, UsageCharge


@dataclass
class _Counter:
    in_flight: int = 0
    max_in_flight: int | None = None


@dataclass
class _Day:
    jobs: int = 0
    output_seconds: int = 0
    credits: float = 0.0


@dataclass
class _StoredEvent:
    event: OutboxEvent
    published_at: datetime | None = None


@dataclass
class _Failures:
    """Operations told to fail with `StoreUnavailableError` (name -> how many more times)."""

    pending: dict[str, int] = field(default_factory=dict)

    def check(self, operation: str) -> None:
        left = self.pending.get(operation, 0)
        if left > 0:
            self.pending[operation] = left - 1
            raise StoreUnavailableError(f"{operation}: the table is unavailable (injected)")


class FakeJobStore:
    """Implements `JobStore`, the relay's `RelayStore`, `DeliveryJobs` and `DeliveryAttemptStore`."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._jobs: dict[str, Job] = {}
        self._events: dict[str, dict[str, _StoredEvent]] = {}
        self._attempts: dict[str, dict[tuple[str, int, datetime], DeliveryAttempt]] = {}
        self._markers: dict[str, EventMarker] = {}
        self._tenants: dict[str, _Counter] = {}
        self._runway: _Counter | None = None
        self._days: dict[tuple[str, str], _Day] = {}
        # tenant -> wall-clock time a job last joined its queue (the poller's roster)
        self.roster: dict[str, float] = {}
        self.failures = _Failures()
        self.writes = 0

    def fail_next(self, operation: str, times: int = 1) -> None:
        """Make the next `times` calls of `operation` (a method name) raise StoreUnavailableError."""
        self.failures.pending[operation] = self.failures.pending.get(operation, 0) + times

    # --- jobs ------------------------------------------------------------------------------

    def create(self, job: Job, *, limits: TenantLimits | None = None) -> None:
        with self._lock:
            self.failures.check("create")
            if job.job_id in self._jobs:
                raise StoreConditionFailedError(f"job {job.job_id} exists")
            if job.charge is not None:
                self._check_charge(job.tenant_id, job.charge, limits)
                self._charge(job.tenant_id, job.charge, sign=1)
            if job.status is JobStatus.QUEUED:
                self.roster[job.tenant_id] = time.time()
            self._jobs[job.job_id] = job.model_copy(deep=True)
            self.writes += 1

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            self.failures.check("get")
            stored = self._jobs.get(job_id)
            return stored.model_copy(deep=True) if stored is not None else None

    def transition(
        self,
        job: Job,
        new_status: JobStatus,
        *,
        changes: Mapping[str, Any] | None = None,
        remove: frozenset[str] = frozenset(),
        event: OutboxEvent | None = None,
        slot_limit: int | None = None,
        runway_limit: int | None = None,
    ) -> Job:
        if not can_transition(job.status, new_status):
            raise ValueError(f"{job.status} → {new_status} is not an allowed transition")
        terminal = is_terminal(new_status)
        if terminal and event is None:
            raise ValueError("a terminal status is written with its outbox event")
        with self._lock:
            self.failures.check("transition")
            all_changes: dict[str, Any] = {**(changes or {}), "status": new_status}
            all_changes["status_history"] = status_history_after(
                job, new_status, all_changes.get("updated_at") or datetime.now(UTC)
            )
            removed = remove | ({"next_poll_at"} if terminal else frozenset())
            takes_slot = new_status is JobStatus.SUBMITTING and not job.holds_slot
            gives_slot = job.holds_slot and (terminal or new_status is JobStatus.QUEUED)
            gives_runway_slot = job.holds_runway_slot and (
                terminal or new_status in (JobStatus.QUEUED, JobStatus.COPYING)
            )
            self._check_version(job)
            tenant = self._tenants.setdefault(job.tenant_id, _Counter()) if takes_slot else None
            if tenant is not None and slot_limit is not None and tenant.in_flight >= slot_limit:
                raise TenantAtCapacityError(f"tenant {job.tenant_id} has no in-flight place left")
            if takes_slot and runway_limit is not None and self._runway_count() >= runway_limit:
                raise RunwayAtCapacityError("every place at Runway is taken")
            if event is not None and event.event_id in self._events.get(event.job_id, {}):
                raise StoreConditionFailedError(f"job {job.job_id} changed meanwhile")
            # Every condition held: the whole transaction lands.
            if takes_slot:
                assert tenant is not None
                all_changes["holds_slot"] = True
                all_changes["holds_runway_slot"] = True
                tenant.in_flight += 1
                tenant.max_in_flight = slot_limit
                self._runway_counter().in_flight += 1
            if gives_slot:
                removed = removed | {"holds_slot"}
                self._tenants.setdefault(job.tenant_id, _Counter()).in_flight -= 1
            if gives_runway_slot:
                removed = removed | {"holds_runway_slot"}
                self._runway_counter().in_flight -= 1
            if terminal and job.runway_task_id is None and job.charge is not None:
                self._charge(job.tenant_id, job.charge, sign=-1)
            if new_status is JobStatus.QUEUED:
                self.roster[job.tenant_id] = time.time()
            if event is not None:
                self._events.setdefault(event.job_id, {})[event.event_id] = _StoredEvent(
                    event.model_copy(deep=True)
                )
            stored = self._write(job.job_id, all_changes, removed)
            extras = takes_slot or gives_slot or gives_runway_slot or event is not None
            extras = extras or new_status is JobStatus.QUEUED
            extras = extras or (terminal and job.runway_task_id is None and job.charge is not None)
            # Like the adapter: after a transaction, the caller's copy with the changes applied;
            # after a single update, the item as stored.
            return _applied(job, all_changes, removed) if extras else stored

    def update(self, job: Job, *, changes: Mapping[str, Any], remove: frozenset[str] = frozenset()) -> Job:
        if "status" in changes:
            raise ValueError("status changes go through transition()")
        with self._lock:
            self.failures.check("update")
            self._check_version(job)
            return self._write(job.job_id, dict(changes), remove)

    def delete(self, job: Job) -> None:
        with self._lock:
            self.failures.check("delete")
            stored = self._jobs.get(job.job_id)
            if stored is None or stored.version != job.version:
                raise StoreConditionFailedError(f"job {job.job_id} changed meanwhile")
            del self._jobs[job.job_id]
            self._attempts.pop(job.job_id, None)
            events = self._events.get(job.job_id, {})
            # Published events go with the job; unpublished ones stay for the relay.
            for event_id in [key for key, item in events.items() if item.published_at is not None]:
                del events[event_id]

    # --- lists -----------------------------------------------------------------------------

    def list_by_tenant(
        self,
        tenant_id: str,
        *,
        status: JobStatus | None,
        limit: int,
        cursor: str | None,
        operation: str | None = None,
        model: str | None = None,
    ) -> JobPage:
        kind = JobKind(operation, model)
        return self._list(
            f"t:{tenant_id}{kind.scope}",
            lambda job: job.tenant_id == tenant_id and kind.matches(job),
            status=status,
            limit=limit,
            cursor=cursor,
        )

    def list_by_reference(
        self,
        tenant_id: str,
        reference: str,
        *,
        status: JobStatus | None,
        limit: int,
        cursor: str | None,
        operation: str | None = None,
        model: str | None = None,
    ) -> JobPage:
        kind = JobKind(operation, model)
        return self._list(
            f"r:{tenant_id}#{reference}{kind.scope}",
            lambda job: (
                job.tenant_id == tenant_id and job.bridge.reference == reference and kind.matches(job)
            ),
            status=status,
            limit=limit,
            cursor=cursor,
        )

    def _list(
        self, scope: str, wanted: Any, *, status: JobStatus | None, limit: int, cursor: str | None
    ) -> JobPage:
        scope = f"{scope}|s:{status.value if status else ''}"
        start = _decode_cursor(cursor, scope) if cursor else 0
        with self._lock:
            matching = sorted(
                (
                    job
                    for job in self._jobs.values()
                    if wanted(job) and (status is None or job.status is status)
                ),
                key=lambda job: (job.created_at, job.job_id),
                reverse=True,  # newest first
            )
        page = matching[start : start + limit]
        more = start + limit < len(matching)
        return JobPage(
            jobs=[job.model_copy(deep=True) for job in page],
            cursor=_encode_cursor(start + limit, scope) if more else None,
        )

    # --- leases and the poller's view --------------------------------------------------------

    def due_job_ids(self, *, now: float, limit: int) -> list[str]:
        with self._lock:
            due = sorted(
                (job.next_poll_at, job.job_id)
                for job in self._jobs.values()
                if _in_due_index(job) and job.next_poll_at is not None and job.next_poll_at <= now
            )
        return [job_id for _, job_id in due[:limit]]

    def queued_jobs(self, tenant_id: str) -> list[Job]:
        """The tenant's queue (QUEUED jobs with a due time), earliest first."""
        with self._lock:
            queued = [
                job
                for job in self._jobs.values()
                if job.tenant_id == tenant_id
                and job.status is JobStatus.QUEUED
                and job.next_poll_at is not None
            ]
        return sorted(queued, key=lambda job: (job.next_poll_at or 0.0, job.job_id))

    def earliest_due_at(self) -> float | None:
        with self._lock:
            times = [job.next_poll_at for job in self._jobs.values() if _in_due_index(job)]
        found = [value for value in times if value is not None]
        return min(found) if found else None

    def tenant_counter(self, tenant_id: str) -> tuple[int, int | None] | None:
        with self._lock:
            counter = self._tenants.get(tenant_id)
            return None if counter is None else (counter.in_flight, counter.max_in_flight)

    # --- source-event markers --------------------------------------------------------------

    def record_event(self, marker: EventMarker) -> bool:
        with self._lock:
            if marker.event_id in self._markers:
                return False
            self._markers[marker.event_id] = marker
            return True

    def get_event(self, event_id: str) -> EventMarker | None:
        with self._lock:
            return self._markers.get(event_id)

    # --- counters --------------------------------------------------------------------------

    def daily_usage(self, tenant_id: str, day: str) -> DailyUsage:
        with self._lock:
            found = self._days.get((tenant_id, day), _Day())
            return DailyUsage(
                day=day, jobs=found.jobs, output_seconds=found.output_seconds, credits=found.credits
            )

    def in_flight(self, tenant_id: str) -> int:
        with self._lock:
            counter = self._tenants.get(tenant_id)
            return counter.in_flight if counter else 0

    def runway_in_flight(self) -> int:
        with self._lock:
            return self._runway_count()

    def queued_count(self, tenant_id: str, *, at_most: int | None = None) -> int:
        count = len(self.queued_jobs(tenant_id))
        return count if at_most is None else min(count, at_most)

    # --- outbox and webhook attempts ---------------------------------------------------------

    def stream_change(self, record: Mapping[str, Any]) -> StreamChange | None:
        """Records handed to the fake relay carry their change already decoded (`{"change": ...}`):
        decoding DynamoDB's stream JSON is the real store's job (tests/integration)."""
        change = record.get("change")
        return change if isinstance(change, StreamChange) else None

    def outbox_events(self, job_id: str) -> list[OutboxEvent]:
        with self._lock:
            return [item.event for item in self._events.get(job_id, {}).values()]

    def get_outbox_event(self, job_id: str, event_id: str) -> OutboxEvent | None:
        with self._lock:
            item = self._events.get(job_id, {}).get(event_id)
            return item.event if item else None

    def mark_published(self, event: OutboxEvent, *, at: datetime) -> None:
        with self._lock:
            self.failures.check("mark_published")
            item = self._events.get(event.job_id, {}).get(event.event_id)
            if item is not None:
                item.published_at = at

    def published_at(self, event: OutboxEvent) -> datetime | None:
        with self._lock:
            item = self._events.get(event.job_id, {}).get(event.event_id)
            return item.published_at if item else None

    def pending_events(self, *, created_before: datetime, limit: int) -> list[OutboxEvent]:
        with self._lock:
            pending = [
                item.event
                for events in self._events.values()
                for item in events.values()
                if item.published_at is None and item.event.created_at < created_before
            ]
        return sorted(pending, key=lambda event: event.created_at)[:limit]

    def record_attempt(self, job_id: str, attempt: DeliveryAttempt) -> None:
        with self._lock:
            self._attempts.setdefault(job_id, {})[(attempt.event_id, attempt.number, attempt.at)] = attempt

    def attempts(self, job_id: str) -> list[DeliveryAttempt]:
        with self._lock:
            found = list(self._attempts.get(job_id, {}).values())
        return sorted(found, key=lambda attempt: (attempt.at, attempt.number))

    # --- helpers ---------------------------------------------------------------------------

    def _check_version(self, job: Job) -> None:
        stored = self._jobs.get(job.job_id)
        if stored is None or stored.status is not job.status or stored.version != job.version:
            raise StoreConditionFailedError(f"job {job.job_id} changed meanwhile")

    def _write(self, job_id: str, changes: Mapping[str, Any], removed: frozenset[str]) -> Job:
        stored = self._jobs[job_id]
        for name in {*changes, *removed}:
            if name not in Job.model_fields:
                raise ValueError(f"Job has no field {name!r}")
        written = _applied(stored, changes, removed)
        self._jobs[job_id] = written
        self.writes += 1
        return written.model_copy(deep=True)

    def _runway_counter(self) -> _Counter:
        if self._runway is None:
            self._runway = _Counter()
        return self._runway

    def _runway_count(self) -> int:
        return self._runway.in_flight if self._runway else 0

    def _check_charge(self, tenant_id: str, charge: UsageCharge, limits: TenantLimits | None) -> None:
        if limits is None:
            return
        day = self._days.get((tenant_id, charge.day), _Day())
        for used, limit, amount in (
            (day.jobs, limits.max_jobs_per_day, 1),
            (day.output_seconds, limits.max_output_seconds_per_day, charge.output_seconds),
            (day.credits, limits.max_credits_per_day, charge.credits),
        ):
            if limit is not None and used > limit - amount:
                raise UsageLimitReachedError(f"tenant {tenant_id} reached a daily limit")

    def _charge(self, tenant_id: str, charge: UsageCharge, *, sign: int) -> None:
        day = self._days.setdefault((tenant_id, charge.day), _Day())
        day.jobs += sign
        day.output_seconds += sign * charge.output_seconds
        day.credits = round(day.credits + sign * charge.credits, 6)


def _in_due_index(job: Job) -> bool:
    """Jobs the poller lists as due: unfinished, with a due time, and not waiting in a queue."""
    return not job.is_terminal and job.next_poll_at is not None and job.status is not JobStatus.QUEUED


def _applied(job: Job, changes: Mapping[str, Any], removed: frozenset[str]) -> Job:
    update = dict(changes)
    update.update({name: Job.model_fields[name].get_default(call_default_factory=True) for name in removed})
    update["version"] = job.version + 1
    return Job.model_validate({**job.model_dump(), **update})


def _encode_cursor(offset: int, scope: str) -> str:
    payload = json.dumps({"scope": scope, "offset": offset}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, scope: str) -> int:
    try:
        payload = json.loads(base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidRequestError("cursor: not a cursor this API returned") from None
    if (
        not isinstance(payload, dict)
        or payload.get("scope") != scope
        or not isinstance(payload.get("offset"), int)
    ):
        raise InvalidRequestError("cursor: does not belong to this query")
    offset: int = payload["offset"]
    return offset
