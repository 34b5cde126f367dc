"""The poller: which jobs a round looks at (`plan_round`) and what one look does (`check`).

A poller run is an Express Step Functions execution (statemachine/poller.asl.json) that repeats
rounds with short Waits: `plan_round` (function poll_due) lists the due job ids, a Map with bounded
concurrency calls `check` (function check_job) per id, and the ASL hands jobs that Runway finished
to the copy queue. Everything a round decides is stored on the job (status, `nextPollAt`), so a
crashed step, function or run loses nothing: the job stays due and a later round looks again.

- Leases: `check` takes the job's lease (conditional write with expiry) before it acts, and
  re-checks that the job is still due, so two overlapping runs never work on one job at once and an
  id listed by a slower run is skipped once another run has handled it. A crashed worker's lease
  expires by itself.
- Every terminal status is written by `JobStore.transition` in one transaction with its outbox
  event (stable id), so a job ends exactly once, with exactly one event.
- Timeouts: a job past `timeoutAt` is read once more (GET before DELETE: a task that just succeeded
  is copied, not destroyed), then cancelled at Runway and ends TIMED_OUT.
- QUEUED jobs (held for their tenant's in-flight limit or Runway's capacity, Runway said 429, or
  their submit stopped before the POST) wait in their tenant's own queue, planned apart from the
  jobs at Runway: a backlog never delays a running job. While Runway has room (no 429 and no task
  held THROTTLED) a round admits a bounded number, taking turns across tenants (each tenant's
  oldest first, skipping tenants whose in-flight places are taken), and sends them through
  `SubmissionService.submit_queued`: the same at-most-once create as the API path.
- SUBMITTING jobs whose lease expired: when their submitter left a hand-off (Runway accepted, the
  task-id write did not land in time) they become PENDING with that task id and are polled;
  otherwise they end SUBMISSION_UNKNOWN (`resolve_expired_submission`).
- Cancels: a job whose tenant asked to cancel it (`cancelRequestedAt`) and Runway has not confirmed
  is read first (a task that finished meanwhile is handled as finished), then DELETEd at Runway
  again each time it is due until Runway confirms (or no longer knows it): it then ends CANCELLED.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final, Protocol

from runway_bridge.errors import (
    RunwayError,
    RunwayNotFoundError,
    StoreConditionFailedError,
)
from runway_bridge.logic.poller.policy import PollingPolicy, as_samples, record_progress
from runway_bridge.logic.ports import Clock, JobStore, RunwayApi, RunwayFactory
from runway_bridge.logic.submission.service import SubmissionService
from runway_bridge.models.job import (
    AT_RUNWAY,
    BRIDGE_TIMED_OUT,
    QUEUE_RUNWAY_RATE_LIMITED,
    TERMINAL,
    Job,
    JobStatus,
)
from runway_bridge.models.outbox import terminal_event
from runway_bridge.models.runway import (
    CancelledTask,
    FailedTask,
    PendingTask,
    RunningTask,
    SucceededTask,
    Task,
    ThrottledTask,
)
from runway_bridge.observability import logger
from runway_bridge.settings import BridgeSettings

# Runway no longer knows the task (deleted with the account's key outside the bridge).
BRIDGE_RUNWAY_TASK_MISSING: Final = "BRIDGE.RUNWAY_TASK_MISSING"
TIMED_OUT_MESSAGE: Final = (
    "The task did not finish within the bridge's time limit; it was cancelled at Runway."
)
LEASE_FIELDS: Final = frozenset({"lease_owner", "lease_expires_at"})


class Outcome(StrEnum):
    """What one check did; the state machine's Choice branches on it (every value is handled)."""

    COPY = "COPY"  # Runway SUCCEEDED: the job is COPYING; hand it to the copy queue
    TERMINAL = "TERMINAL"  # FAILED, CANCELLED, TIMED_OUT or SUBMISSION_UNKNOWN was written now
    RESCHEDULED = "RESCHEDULED"  # still going: progress and the next poll are stored
    UNKNOWN_STATUS = "UNKNOWN_STATUS"  # a status this code does not know: rescheduled and logged
    SUBMITTED = "SUBMITTED"  # a QUEUED job's create was sent (or it stays queued after a 429)
    RETRY_LATER = "RETRY_LATER"  # Runway could not be read now: looked at again soon
    SKIPPED = "SKIPPED"  # leased by another worker, no longer due, finished, or gone


class PollerState(Protocol):
    """The poller's own records (adapters/poller/state.py)."""

    def claim_run(self, run_id: str, *, now: float, hold_s: float) -> bool: ...

    def release_run(self, run_id: str) -> None: ...

    def runway_held_until(self) -> float: ...

    def block_runway_until(self, until: float) -> None: ...

    def hold_runway_until(self, until: float) -> None: ...

    def earliest_due_at(self) -> float | None: ...

    def queued_tenants(self) -> list[str]: ...

    def queue_head(self, tenant_id: str, *, limit: int) -> tuple[list[tuple[str, float]], float]: ...

    def forget_queue(self, tenant_id: str, *, unless_touched_since: float) -> None: ...

    def in_flight(self, tenant_ids: Sequence[str]) -> dict[str, tuple[int, int | None]]: ...


@dataclass(frozen=True)
class CheckResult:
    job_id: str
    outcome: Outcome
    status: str | None = None
    detail: str | None = None

    def to_state(self) -> dict[str, Any]:
        """The Map iteration's state (small: Express caps state at 256 KB)."""
        state: dict[str, Any] = {"jobId": self.job_id, "outcome": self.outcome.value}
        if self.status is not None:
            state["status"] = self.status
        if self.outcome is Outcome.COPY:
            state["copyMessage"] = {"jobId": self.job_id}
        return state


class PollerService:
    def __init__(
        self,
        *,
        jobs: JobStore,
        state: PollerState,
        submission: SubmissionService,
        runway_factory: RunwayFactory,
        settings: BridgeSettings,
        clock: Clock,
        policy: PollingPolicy | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._jobs = jobs
        self._state = state
        self._submission = submission
        self._runway_factory = runway_factory
        self._settings = settings
        self._clock = clock
        self._policy = policy or PollingPolicy(max_age_s=settings.job_timeout_s)
        self._rng = rng

    # --- one round --------------------------------------------------------------------------

    def plan_round(self, run: Mapping[str, Any]) -> dict[str, Any]:
        """The next round of a run: the due job ids, or `done` when the run should end.

        `run` is the execution's state: `runId` (the scheduler and the submit path name it; a
        missing one is made here), `startedAt`, `round`, and `helper` (a run that helps with a
        backlog without taking the run marker). A run ends when another live run holds the marker,
        when its time is up, or when no job is due before its time would be up.
        """
        now = self._now()
        settings = self._settings
        run_id = str(run.get("runId") or f"run-{uuid.uuid4()}")
        started_at = float(run.get("startedAt") or now)
        helper = bool(run.get("helper", False))
        round_number = int(run.get("round") or 0) + 1
        plan: dict[str, Any] = {
            "runId": run_id,
            "startedAt": started_at,
            "round": round_number,
            "helper": helper,
            "jobIds": [],
            "hasJobs": False,
            "done": False,
            "waitSeconds": settings.poller_wait_s,
            "reason": "",
            # Queued jobs wait for a place at Runway: this round's checks look at running tasks
            # sooner, so a place Runway frees is noticed and used at once.
            "queueWaiting": False,
        }
        if not helper and not self._state.claim_run(run_id, now=now, hold_s=settings.poller_run_hold_s):
            return {**plan, "done": True, "reason": "another run is active"}
        deadline = started_at + settings.poller_run_max_s
        if now >= deadline:
            self._end_run(run_id, helper)
            return {**plan, "done": True, "reason": "run time is up"}

        job_ids = self._jobs.due_job_ids(now=now, limit=settings.poller_max_jobs_per_round)
        admitted, queue_due_at, waiting = self._admit_queued(now, round_number)
        job_ids = job_ids + admitted
        plan["queueWaiting"] = waiting
        if waiting:
            # The next round comes as soon as a running task may have been seen done.
            plan["waitSeconds"] = max(min(settings.poller_wait_s, math.ceil(settings.poller_busy_poll_s)), 1)
        if job_ids:
            return {**plan, "jobIds": job_ids, "hasJobs": True}
        earliest = _earliest(self._state.earliest_due_at(), queue_due_at)
        if earliest is None or earliest > deadline:
            self._end_run(run_id, helper)
            # A job recorded while this run was deciding may have found the marker still held and
            # started nothing: look once more after letting the marker go.
            earliest = _earliest(self._state.earliest_due_at(), queue_due_at)
            if (
                earliest is None
                or earliest > deadline
                or helper
                or not self._state.claim_run(run_id, now=self._now(), hold_s=settings.poller_run_hold_s)
            ):
                return {**plan, "done": True, "reason": "nothing due before the run ends"}
        wait = min(max(earliest - now, plan["waitSeconds"]), settings.poller_idle_wait_max_s)
        return {**plan, "waitSeconds": max(int(wait + 0.999), 1)}

    def _admit_queued(self, now: float, round_number: int) -> tuple[list[str], float | None, bool]:
        """QUEUED job ids to send this round, in turns across tenants; when the next queued job
        becomes due (for the run's wait); and whether due jobs are left waiting for Runway's room.
        Nothing is admitted while Runway has no room."""
        settings = self._settings
        tenants = sorted(self._state.queued_tenants())
        if not tenants:
            return [], None, False
        held_until = self._state.runway_held_until()
        in_flight = self._state.in_flight(tenants)
        queues: dict[str, list[str]] = {}
        next_due: float | None = held_until if held_until > now else None
        for tenant in tenants:
            head, read_at = self._state.queue_head(tenant, limit=settings.poller_queue_read_per_tenant)
            if not head:
                self._state.forget_queue(tenant, unless_touched_since=read_at)
                continue
            due = [job_id for job_id, due_at in head if due_at <= now]
            later = [due_at for _, due_at in head if due_at > now]
            if later:
                next_due = _earliest(next_due, min(later))
            used, limit = in_flight.get(tenant, (0, None))
            room = len(due) if limit is None else max(limit - used, 0)
            if due and room > 0:
                queues[tenant] = due[:room]
            elif due:
                next_due = _earliest(next_due, now + settings.poller_wait_s)
        if held_until > now or not queues:
            if not queues:
                return [], next_due, False
            return [], _earliest(next_due, now + settings.poller_wait_s), True
        allowed = settings.poller_queued_per_round
        if settings.runway_max_in_flight:
            allowed = min(allowed, max(settings.runway_max_in_flight - self._jobs.runway_in_flight(), 0))
        admitted = _take_turns(
            queues, {tenant: in_flight.get(tenant, (0, None))[0] for tenant in queues}, allowed, round_number
        )
        waiting = any(queues.values())
        if waiting:
            next_due = _earliest(next_due, now)
        return admitted, next_due, waiting

    def _end_run(self, run_id: str, helper: bool) -> None:
        if not helper:
            self._state.release_run(run_id)

    # --- one job ----------------------------------------------------------------------------

    def check(self, job_id: str, run_id: str, *, queue_waiting: bool = False) -> CheckResult:
        """Look at one due job and store what follows (see the module docs). Raises only when the
        jobs table (or, for an expired SUBMITTING lease, the hand-off bucket) is unavailable: the
        job then stays due and a later round looks again."""
        job = self._jobs.get(job_id)
        if job is None:
            return CheckResult(job_id, Outcome.SKIPPED, detail="no such job")
        if job.status in TERMINAL:
            return CheckResult(job_id, Outcome.SKIPPED, job.status.value, "already finished")
        if job.status is JobStatus.SUBMITTING:
            # Never leased here: its lease is the submitter's, and only its expiry decides.
            resolved = self._submission.resolve_expired_submission(job_id)
            if resolved is not None and resolved.status is JobStatus.SUBMISSION_UNKNOWN:
                return CheckResult(job_id, Outcome.TERMINAL, resolved.status.value)
            if resolved is not None and resolved.status in AT_RUNWAY:
                # Recorded from its submitter's hand-off; due now, polled in the next round.
                return CheckResult(job_id, Outcome.SUBMITTED, resolved.status.value)
            return CheckResult(job_id, Outcome.SKIPPED, job.status.value, "create still in flight")

        owner = f"{run_id}/{uuid.uuid4().hex[:12]}"
        now = self._now()
        leased = self._jobs.take_lease(job_id, owner, now=now, lease_s=self._settings.poller_lease_s)
        if leased is None:
            return CheckResult(job_id, Outcome.SKIPPED, job.status.value, "leased by another worker")
        if leased.status in TERMINAL or leased.next_poll_at is None or leased.next_poll_at > now:
            # Another run handled it since this round listed it.
            self._jobs.release_lease(leased, owner)
            return CheckResult(job_id, Outcome.SKIPPED, leased.status.value, "no longer due")
        try:
            return self._check_leased(leased, owner, queue_waiting=queue_waiting)
        except StoreConditionFailedError:
            # Changed meanwhile (e.g. the caller cancelled it): the next round reads it afresh.
            self._release_quietly(leased, owner)
            return CheckResult(job_id, Outcome.SKIPPED, detail="changed meanwhile")
        except BaseException:
            self._release_quietly(leased, owner)
            raise

    def _check_leased(self, job: Job, owner: str, *, queue_waiting: bool = False) -> CheckResult:
        if job.status is JobStatus.QUEUED:
            return self._submit_queued(job, owner)
        if job.status is JobStatus.COPYING:
            # The copy has not finished long after the hand-off: hand it off again (idempotent).
            self._jobs.update(
                job,
                changes={"next_poll_at": self._now() + self._settings.copy_watchdog_s},
                remove=LEASE_FIELDS,
            )
            logger.warning("copy not finished in time: handed off again", extra={"job_id": job.job_id})
            return CheckResult(job.job_id, Outcome.COPY, job.status.value)
        if job.status not in AT_RUNWAY or job.runway_task_id is None:
            self._jobs.release_lease(job, owner)
            logger.error("due job in an unexpected state", extra={"job_id": job.job_id, "status": job.status})
            return CheckResult(job.job_id, Outcome.SKIPPED, job.status.value, "unexpected state")

        runway = self._runway_factory()
        budget = self._settings.poller_runway_budget_s
        try:
            task = runway.get_task(job.runway_task_id, budget_s=budget)
        except RunwayNotFoundError:
            return self._finish(
                job,
                JobStatus.FAILED,
                failure="Runway no longer knows this task (it was deleted outside the bridge).",
                failure_code=BRIDGE_RUNWAY_TASK_MISSING,
                extra=_looked(job),
            )
        except RunwayError as exc:
            return self._retry_later(job, reason=exc.message)

        if isinstance(task, SucceededTask | FailedTask | CancelledTask):
            return self._finished_at_runway(job, task)
        if job.cancel_requested_at is not None:
            return self._cancel_at_runway(job, runway, task)
        if job.timeout_at is not None and self._now() >= job.timeout_at:
            return self._time_out(job, runway, task)
        return self._reschedule(job, task, queue_waiting=queue_waiting)

    def _finished_at_runway(self, job: Job, task: SucceededTask | FailedTask | CancelledTask) -> CheckResult:
        now = self._now()
        if isinstance(task, SucceededTask):
            self._jobs.transition(
                job,
                JobStatus.COPYING,
                changes={
                    "updated_at": self._clock(),
                    "runway_status": task.status,
                    "progress": 1.0,
                    "next_poll_at": now + self._settings.copy_watchdog_s,
                    **_looked(job),
                    **_cost_changes(task),
                },
                remove=LEASE_FIELDS,
            )
            return CheckResult(job.job_id, Outcome.COPY, JobStatus.COPYING.value)
        if isinstance(task, FailedTask):
            return self._finish(
                job,
                JobStatus.FAILED,
                failure=task.failure,
                failure_code=task.failure_code,
                runway_status=task.status,
                extra={**_looked(job), **_cost_changes(task)},
            )
        return self._finish(
            job,
            JobStatus.CANCELLED,
            # The tenant's own cancel carries no failure; one made outside the bridge says so.
            failure=None if job.cancel_requested_at is not None else "The task was cancelled at Runway.",
            runway_status=task.status,
            extra={**_looked(job), **_cost_changes(task)},
        )

    def _cancel_at_runway(self, job: Job, runway: RunwayApi, last_look: Task) -> CheckResult:
        """The tenant asked to cancel it and Runway has not confirmed yet (not finished at the last
        look, the GET before this DELETE)."""
        refused = self._delete_at_runway(job, runway)
        if refused is not None:
            return self._retry_later(job, reason=f"cancel not confirmed by Runway: {refused}")
        logger.info("requested cancel confirmed by Runway", extra={"job_id": job.job_id})
        return self._finish(job, JobStatus.CANCELLED, runway_status=last_look.status, extra=_looked(job))

    def _time_out(self, job: Job, runway: RunwayApi, last_look: Task) -> CheckResult:
        """Past its limit and not finished at the last look (the GET before this DELETE)."""
        refused = self._delete_at_runway(job, runway)
        if refused is not None:
            # Not cancelled: it could still be charged and finish. Try again soon.
            return self._retry_later(job, reason=f"cancel of a timed-out task failed: {refused}")
        logger.info("job timed out", extra={"job_id": job.job_id, "runway_status": last_look.status})
        return self._finish(
            job,
            JobStatus.TIMED_OUT,
            failure=TIMED_OUT_MESSAGE,
            failure_code=BRIDGE_TIMED_OUT,
            runway_status=last_look.status,
            extra=_looked(job),
        )

    def _delete_at_runway(self, job: Job, runway: RunwayApi) -> str | None:
        """DELETE the job's task at Runway; None once it is gone (404 counts), else why not."""
        assert job.runway_task_id is not None
        try:
            runway.delete_task(job.runway_task_id, budget_s=self._settings.poller_runway_budget_s)
        except RunwayNotFoundError:
            return None  # already gone at Runway
        except RunwayError as exc:
            return exc.message
        return None

    def _reschedule(self, job: Job, task: Task, *, queue_waiting: bool = False) -> CheckResult:
        now = self._now()
        known = isinstance(task, PendingTask | ThrottledTask | RunningTask)
        progress = task.progress if isinstance(task, RunningTask) else None
        status = {"PENDING": JobStatus.PENDING, "THROTTLED": JobStatus.THROTTLED}.get(
            task.status, JobStatus.RUNNING
        )
        if not known:
            status = job.status  # an unknown status changes nothing but the next poll
            logger.warning(
                "Runway answered a status this bridge does not know; polling on",
                extra={"job_id": job.job_id, "runway_status": task.status},
            )
        history = record_progress(
            job.progress_history, now, task.status, progress, limit=self._policy.history_size
        )
        age_s = max(now - job.created_at.timestamp(), 0.0)
        delay = self._policy.next_poll_delay(
            task.status,
            job.model,
            age_s,
            as_samples(history),
            now,
            clip_seconds=_clip_seconds(job),
            operation=job.operation,
            rng=self._rng,
        )
        if queue_waiting and isinstance(task, RunningTask):
            # Jobs wait for this task's place: a late look here is a place left empty.
            delay = min(delay, self._settings.poller_busy_poll_s)
        if job.timeout_at is not None:
            delay = min(delay, max(job.timeout_at - now, 0.0))
        if isinstance(task, ThrottledTask):
            # Runway's capacity is full: hold new creates until this task's next look says more.
            self._state.hold_runway_until(now + delay + self._settings.poller_throttled_hold_s)
        self._jobs.transition(
            job,
            status,
            changes={
                "updated_at": self._clock(),
                "runway_status": task.status,
                "progress": progress if progress is not None else job.progress,
                "progress_history": history,
                "next_poll_at": now + delay,
                **_looked(job),
                **_cost_changes(task),
            },
            remove=LEASE_FIELDS,
        )
        outcome = Outcome.RESCHEDULED if known else Outcome.UNKNOWN_STATUS
        return CheckResult(job.job_id, outcome, status.value)

    def _retry_later(self, job: Job, *, reason: str) -> CheckResult:
        logger.warning(
            "Runway could not be read; trying later", extra={"job_id": job.job_id, "reason": reason}
        )
        self._jobs.update(
            job,
            changes={"next_poll_at": self._now() + self._settings.poller_retry_delay_s},
            remove=LEASE_FIELDS,
        )
        return CheckResult(job.job_id, Outcome.RETRY_LATER, job.status.value, reason)

    def _submit_queued(self, job: Job, owner: str) -> CheckResult:
        # The lease guards this job against other poller workers; the create itself is guarded by
        # the QUEUED -> SUBMITTING conditional write (at most one create, whoever tries).
        after = self._submission.submit_queued(job.job_id, budget_s=self._settings.poller_submit_budget_s)
        self._jobs.release_lease(job, owner)
        if after is None:
            return CheckResult(job.job_id, Outcome.SKIPPED, detail="no such job")
        if (
            after.status is JobStatus.QUEUED
            and after.queue_reason == QUEUE_RUNWAY_RATE_LIMITED
            and after.next_poll_at is not None
        ):
            # Runway refused for now (429): no other queued job is sent before it may be.
            self._state.block_runway_until(after.next_poll_at)
        if after.status in TERMINAL:
            return CheckResult(job.job_id, Outcome.TERMINAL, after.status.value)
        return CheckResult(job.job_id, Outcome.SUBMITTED, after.status.value)

    def _finish(
        self,
        job: Job,
        status: JobStatus,
        *,
        failure: str | None = None,
        failure_code: str | None = None,
        runway_status: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> CheckResult:
        """A terminal status, in one transaction with its outbox event."""
        changes: dict[str, Any] = {
            "updated_at": self._clock(),
            "failure": failure,
            "failure_code": failure_code,
            **(extra or {}),
        }
        if runway_status is not None:
            changes["runway_status"] = runway_status
        future = job.model_copy(update={**changes, "status": status})
        self._jobs.transition(job, status, changes=changes, remove=LEASE_FIELDS, event=terminal_event(future))
        return CheckResult(job.job_id, Outcome.TERMINAL, status.value)

    def _release_quietly(self, job: Job, owner: str) -> None:
        try:
            self._jobs.release_lease(job, owner)
        except Exception:  # noqa: BLE001 - the lease expires by itself; the original error matters
            logger.exception("could not release a lease", extra={"job_id": job.job_id})

    def _now(self) -> float:
        return _epoch(self._clock())


def _take_turns(
    queues: dict[str, list[str]], in_flight: dict[str, int], allowed: int, round_number: int
) -> list[str]:
    """Up to `allowed` job ids from the tenants' queues (each oldest first, emptied in place): each
    turn goes to the tenant with the fewest jobs in flight so far (admissions of this round count),
    ties taken in an order that moves every round. A tenant with one job running goes before one
    with a hundred, so a flood never takes the places freed by others' jobs."""
    order = sorted(queues)
    start = round_number % len(order)
    rank = {tenant: index for index, tenant in enumerate(order[start:] + order[:start])}
    running = dict(in_flight)
    admitted: list[str] = []
    while len(admitted) < allowed:
        waiting = [tenant for tenant in queues if queues[tenant]]
        if not waiting:
            break
        tenant = min(waiting, key=lambda name: (running.get(name, 0), rank[name]))
        admitted.append(queues[tenant].pop(0))
        running[tenant] = running.get(tenant, 0) + 1
    return admitted


def _earliest(first: float | None, second: float | None) -> float | None:
    if first is None:
        return second
    return first if second is None else min(first, second)


def _epoch(moment: datetime) -> float:
    return moment.timestamp()


def _looked(job: Job) -> dict[str, Any]:
    """Every answer Runway gave the poller counts, the one that found the task finished too."""
    return {"poll_count": job.poll_count + 1}


def _cost_changes(task: Task) -> dict[str, Any]:
    """Credits Runway reports (estimate while unfinished, final cost once done) for the task view."""
    changes: dict[str, Any] = {}
    if task.estimated_cost is not None:
        changes["estimated_credits"] = float(task.estimated_cost.credits)
    if task.cost is not None:
        changes["cost_credits"] = int(task.cost.credits)
    return changes


def _clip_seconds(job: Job) -> int | None:
    duration = (job.request_body or {}).get("duration")
    return duration if isinstance(duration, int) else None
