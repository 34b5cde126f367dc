"""One look at one due job (`check`): poll Runway, store what follows, hand finished jobs to the
copy queue, cancel or time out at Runway, send a queued job's create."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from runway_bridge.errors import (
    RunwayError,
    RunwayNotFoundError,
    StoreConditionFailedError,
)
from runway_bridge.logic.poller.core import (
    CheckResult,
    Outcome,
    PollerCore,
    _clip_seconds,
    _cost_changes,
    _looked,
)
from runway_bridge.logic.poller.policy import (
    DurationPrior,
    as_samples,
    duration_bucket,
    learned_prior,
    prior_key,
    record_progress,
)
from runway_bridge.logic.ports import RunwayApi
from runway_bridge.models.job import (
    AT_RUNWAY,
    BRIDGE_TIMED_OUT,
    LEASE_FIELDS,
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

# Runway no longer knows the task (deleted with the account's key outside the bridge).
BRIDGE_RUNWAY_TASK_MISSING: Final = "BRIDGE.RUNWAY_TASK_MISSING"
TIMED_OUT_MESSAGE: Final = (
    "The task did not finish within the bridge's time limit; it was cancelled at Runway."
)


class JobChecker(PollerCore):
    # --- one job ----------------------------------------------------------------------------

    def check(self, job_id: str, *, queue_waiting: bool = False) -> CheckResult:
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

        now = self._now()
        due_by = now + self._settings.poller_early_s  # a round takes jobs due within this
        if job.next_poll_at is None or job.next_poll_at > due_by:
            # Another run handled it since this round listed it.
            return CheckResult(job_id, Outcome.SKIPPED, job.status.value, "no longer due")
        try:
            return self._check_due(job, queue_waiting=queue_waiting)
        except StoreConditionFailedError:
            # Another look (an overlapping run) or the caller (a cancel) wrote it since it was read:
            # that write stands, and the next round reads the job afresh.
            return CheckResult(job_id, Outcome.SKIPPED, detail="changed meanwhile")

    def _check_due(self, job: Job, *, queue_waiting: bool = False) -> CheckResult:
        """One look, written with one conditional write (the job's version as read): no lease is
        taken, so a look costs one write; of two overlapping looks one write wins and the other is
        refused (`StoreConditionFailedError`). Runway's side needs no lease either: a GET or a
        DELETE twice is harmless, and a queued job's create is guarded by its own QUEUED ->
        SUBMITTING write."""
        if job.status is JobStatus.QUEUED:
            return self._submit_queued(job)
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
            self._learn_duration(job, now)
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
            return CheckResult(job.job_id, Outcome.COPY, JobStatus.COPYING.value, outputs=tuple(task.output))
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
            prior=self._learned_prior(job),
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

    def _learned_prior(self, job: Job) -> DurationPrior | None:
        return learned_prior(self._state.duration_counts(_kind(job)))

    def _learn_duration(self, job: Job, now: float) -> None:
        """Count how long this task took (submit to Runway's finish, which fell between the last
        look and this one) towards its kind's learned prior."""
        last_look = job.progress_history[-1][0] if job.progress_history else now
        finished_at = (min(last_look, now) + now) / 2
        took = max(finished_at - job.created_at.timestamp(), 0.0)
        self._state.record_duration(_kind(job), duration_bucket(took))

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

    def _submit_queued(self, job: Job) -> CheckResult:
        # The create is guarded by the QUEUED -> SUBMITTING conditional write (at most one create,
        # whoever tries: another poller, or the API's own path).
        after = self._submission.submit_queued(job.job_id, budget_s=self._settings.poller_submit_budget_s)
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


def _kind(job: Job) -> str:
    """The learned prior this job's task reads and counts towards."""
    return prior_key(job.model, _clip_seconds(job))
