"""What one poller look at a job does, for each answer Runway can give."""

from __future__ import annotations

import pytest

from runway_bridge.errors import RunwayNotFoundError
from runway_bridge.logic.poller.check import BRIDGE_RUNWAY_TASK_MISSING
from runway_bridge.logic.poller.core import Outcome
from runway_bridge.models.job import BRIDGE_TIMED_OUT, QUEUE_RUNWAY_RATE_LIMITED, Job, JobStatus
from tests.unit.builders import TEXT_TO_VIDEO
from tests.unit.fakes.runway import rate_limited, task, unavailable
from tests.unit.harness import TENANT, Harness


def _running(h: Harness) -> tuple[Job, str]:
    """A job Runway accepted, due now."""
    task_id = h.runway.accept()
    job_id = h.submission.submit(TENANT, "text_to_video", TEXT_TO_VIDEO, "k").job_id
    h.clock.advance(h.settings.first_poll_delay_s + 1)
    job = h.jobs.get(job_id)
    assert job is not None
    return job, task_id


def _check(h: Harness, job: Job) -> tuple[Outcome, Job]:
    result = h.poller.check(job.job_id)
    after = h.jobs.get(job.job_id)
    assert after is not None
    assert after.lease_owner is None  # every path lets the lease go
    return result.outcome, after


def test_a_running_task_is_rescheduled_with_its_progress(h: Harness) -> None:
    job, task_id = _running(h)
    h.runway.tasks[task_id] = [task(task_id, "RUNNING", progress=0.4)]
    outcome, after = _check(h, job)
    assert outcome is Outcome.RESCHEDULED
    assert (after.status, after.progress, after.poll_count) == (JobStatus.RUNNING, 0.4, 1)
    assert after.next_poll_at is not None
    assert after.next_poll_at > h.now()


def test_a_succeeded_task_goes_to_the_copy_and_frees_runways_place(h: Harness) -> None:
    job, task_id = _running(h)
    h.runway.tasks[task_id] = [task(task_id, "SUCCEEDED", output=["https://cdn.runway.test/o.mp4"])]
    outcome, after = _check(h, job)
    assert outcome is Outcome.COPY
    assert after.status is JobStatus.COPYING
    assert (h.jobs.runway_in_flight(), h.jobs.in_flight(TENANT)) == (0, 1)
    assert h.jobs.outbox_events(job.job_id) == []  # the copier announces the success


def test_a_failed_task_ends_failed_with_runways_reason_and_one_event(h: Harness) -> None:
    job, task_id = _running(h)
    h.runway.tasks[task_id] = [
        task(task_id, "FAILED", failure="unsafe content", failureCode="SAFETY.INPUT.TEXT")
    ]
    outcome, after = _check(h, job)
    assert outcome is Outcome.TERMINAL
    assert (after.status, after.failure, after.failure_code) == (
        JobStatus.FAILED,
        "unsafe content",
        "SAFETY.INPUT.TEXT",
    )
    assert [event.type for event in h.jobs.outbox_events(job.job_id)] == ["task.failed"]
    assert h.jobs.in_flight(TENANT) == 0
    assert job.charge is not None
    assert h.jobs.daily_usage(TENANT, job.charge.day).jobs == 1  # Runway ran it: no refund


def test_a_task_cancelled_outside_the_bridge_says_so(h: Harness) -> None:
    job, task_id = _running(h)
    h.runway.tasks[task_id] = [task(task_id, "CANCELLED")]
    outcome, after = _check(h, job)
    assert outcome is Outcome.TERMINAL
    assert after.status is JobStatus.CANCELLED
    assert after.failure == "The task was cancelled at Runway."


def test_a_task_runway_no_longer_knows_fails_the_job(h: Harness) -> None:
    job, task_id = _running(h)
    h.runway.tasks[task_id] = [RunwayNotFoundError("no such task", status_code=404)]
    outcome, after = _check(h, job)
    assert outcome is Outcome.TERMINAL
    assert (after.status, after.failure_code) == (JobStatus.FAILED, BRIDGE_RUNWAY_TASK_MISSING)


def test_runway_unavailable_means_look_again_soon(h: Harness) -> None:
    job, task_id = _running(h)
    h.runway.tasks[task_id] = [unavailable()]
    outcome, after = _check(h, job)
    assert outcome is Outcome.RETRY_LATER
    assert after.status is JobStatus.PENDING
    assert after.next_poll_at == pytest.approx(h.now() + h.settings.poller_retry_delay_s)


def test_a_task_past_its_time_limit_is_cancelled_at_runway_and_times_out(h: Harness) -> None:
    job, task_id = _running(h)
    h.runway.tasks[task_id] = [task(task_id, "RUNNING", progress=0.1)]
    h.clock.advance(h.settings.job_timeout_s + 1)
    outcome, after = _check(h, job)
    assert outcome is Outcome.TERMINAL
    assert (after.status, after.failure_code) == (JobStatus.TIMED_OUT, BRIDGE_TIMED_OUT)
    assert h.runway.deletes == [task_id]


def test_a_requested_cancel_is_repeated_until_runway_confirms(h: Harness) -> None:
    job, task_id = _running(h)
    h.runway.delete_answers = [unavailable(), unavailable()]  # the API's try and the first poller try
    h.tasks.delete(TENANT, job.job_id)
    h.clock.advance(60)
    outcome, after = _check(h, h.jobs.get(job.job_id) or job)
    assert (outcome, after.status) == (Outcome.RETRY_LATER, JobStatus.PENDING)
    h.clock.advance(60)
    outcome, after = _check(h, after)
    assert (outcome, after.status) == (Outcome.TERMINAL, JobStatus.CANCELLED)
    assert h.runway.deletes == [task_id] * 3


def test_a_throttled_task_holds_new_creates_back(h: Harness) -> None:
    job, task_id = _running(h)
    h.runway.tasks[task_id] = [task(task_id, "THROTTLED")]
    outcome, after = _check(h, job)
    assert (outcome, after.status) == (Outcome.RESCHEDULED, JobStatus.THROTTLED)
    assert h.state.runway_held_until() > h.now()


def test_an_unknown_runway_status_changes_nothing_but_the_next_look(h: Harness) -> None:
    job, task_id = _running(h)
    h.runway.tasks[task_id] = [task(task_id, "WARMING_UP")]
    outcome, after = _check(h, job)
    assert (outcome, after.status) == (Outcome.UNKNOWN_STATUS, JobStatus.PENDING)


def test_a_look_costs_one_write_and_a_job_not_yet_due_is_skipped(h: Harness) -> None:
    job, task_id = _running(h)
    h.runway.tasks[task_id] = [task(task_id, "RUNNING", progress=0.2)]
    writes: list[str] = []
    reads = {"get", "due_job_ids", "earliest_due_at", "runway_in_flight", "in_flight", "outbox_events"}
    for name in [n for n in dir(h.jobs) if not n.startswith("_") and callable(getattr(h.jobs, n))]:
        if name in reads or name.startswith(("list_", "queued_", "tenant_")):
            continue
        real = getattr(h.jobs, name)

        def counted(*args: object, _real: object = real, _name: str = name, **kwargs: object) -> object:
            writes.append(_name)
            return _real(*args, **kwargs)  # type: ignore[operator]

        setattr(h.jobs, name, counted)
    assert h.poller.check(job.job_id).outcome is Outcome.RESCHEDULED
    assert writes == ["transition"]  # no lease taken and released around it
    assert h.poller.check(job.job_id).outcome is Outcome.SKIPPED  # no longer due
    assert h.poller.check("no-such-job").outcome is Outcome.SKIPPED
    assert h.runway.gets == [task_id]


def test_of_two_overlapping_looks_at_one_job_one_is_stored_and_one_hands_it_to_the_copy(h: Harness) -> None:
    job, task_id = _running(h)
    h.runway.tasks[task_id] = [task(task_id, "SUCCEEDED", output=["https://cdn.runway.test/o.mp4"])]
    # A second run read the job just before this look wrote it: its own write must be refused.
    stale = h.jobs.get(job.job_id)
    assert h.poller.check(job.job_id).outcome is Outcome.COPY
    real_get = h.jobs.get
    h.jobs.get = lambda job_id: stale if job_id == job.job_id else real_get(job_id)  # type: ignore[method-assign,assignment,return-value]
    second = h.poller.check(job.job_id)
    h.jobs.get = real_get  # type: ignore[method-assign]
    assert (second.outcome, second.detail) == (Outcome.SKIPPED, "changed meanwhile")
    after = h.jobs.get(job.job_id)
    assert after is not None
    assert after.status is JobStatus.COPYING
    assert after.version == job.version + 1  # one write stood


def test_a_queued_job_is_sent_by_the_poller_and_a_429_holds_the_queue(h: Harness) -> None:
    h.runway.create_answers = [rate_limited(30), rate_limited(30)]
    job_id = h.submission.submit(TENANT, "text_to_video", TEXT_TO_VIDEO, "k").job_id
    h.clock.advance(31)
    result = h.poller.check(job_id)
    after = h.jobs.get(job_id)
    assert after is not None
    assert (result.outcome, after.status, after.queue_reason) == (
        Outcome.SUBMITTED,
        JobStatus.QUEUED,
        QUEUE_RUNWAY_RATE_LIMITED,
    )
    assert h.state.blocked_until == after.next_poll_at
    h.clock.advance(31)
    result = h.poller.check(job_id)
    assert (result.outcome, result.status) == (Outcome.SUBMITTED, "PENDING")
    assert len(h.runway.creates) == 3


def test_a_submitting_job_whose_lease_expired_ends_unknown_at_the_next_look(h: Harness) -> None:
    h.runway.on_create = lambda: h.jobs.fail_next("transition", 10)
    h.objects.handoff_fails = True
    job_id = h.submission.submit(TENANT, "text_to_video", TEXT_TO_VIDEO, "k").job_id
    h.jobs.failures.pending.clear()
    h.objects.handoff_fails = False
    assert h.poller.check(job_id).outcome is Outcome.SKIPPED  # its submitter may still answer
    h.clock.advance(h.settings.api_submit_budget_s + h.settings.submit_lease_margin_s + 1)
    result = h.poller.check(job_id)
    assert (result.outcome, result.status) == (Outcome.TERMINAL, "SUBMISSION_UNKNOWN")
    assert len(h.runway.creates) == 1


def test_a_copy_that_has_not_finished_in_time_is_handed_off_again(h: Harness) -> None:
    job, task_id = _running(h)
    h.runway.tasks[task_id] = [task(task_id, "SUCCEEDED", output=["https://cdn.runway.test/o.mp4"])]
    _check(h, job)
    h.clock.advance(h.settings.copy_watchdog_s + 1)
    outcome, after = _check(h, job)
    assert (outcome, after.status) == (Outcome.COPY, JobStatus.COPYING)
    assert after.next_poll_at == pytest.approx(h.now() + h.settings.copy_watchdog_s)
