"""The submit path answers within its deadline: the budget comes from the invocation's remaining
time, a create is only sent when there is time to record it, and a task-id write that does not
land in time is handed to the poller (never a second create, never an untracked task)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from runway_bridge.errors import StoreUnavailableError
from runway_bridge.logic.deadline import remaining_ms_of, request_budget_s
from runway_bridge.logic.poller.service import Outcome
from runway_bridge.models.job import Job, JobStatus
from runway_bridge.settings import BridgeSettings
from tests.integration.conftest import TEXT_TO_VIDEO, Bridge, poller_of, wait_for_runway_status


class FakeContext:
    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def test_the_submit_budget_shrinks_with_the_invocations_remaining_time() -> None:
    settings = BridgeSettings(api_submit_budget_s=24.0, api_answer_reserve_s=3.0)

    def budget(remaining_ms: int) -> float | None:
        return request_budget_s(remaining_ms_of(FakeContext(remaining_ms)), settings)

    # A fresh 29 s invocation is capped by API Gateway's own limit; later the remaining time rules.
    assert budget(29_000) == 24.0
    assert budget(20_000) == pytest.approx(17.0)
    assert budget(5_000) == pytest.approx(2.0)
    assert budget(2_000) == 0.0
    assert budget(20_000) > budget(10_000) > budget(4_000)  # type: ignore[operator]
    # No Lambda context (a direct call): the service's own default applies.
    assert request_budget_s(remaining_ms_of(None), settings) is None


def test_too_little_time_before_the_create_leaves_the_job_queued_and_the_poller_sends_it(
    bridge: Bridge,
) -> None:
    result = bridge.submission.submit(
        "tenant-a", "text_to_video", TEXT_TO_VIDEO, "late-1", budget_s=bridge.settings.submit_min_send_s / 2
    )

    # Recorded and answered (2xx), not sent: the poller sends it.
    assert result.status is JobStatus.QUEUED
    assert bridge.creates() == 0
    assert bridge.poller.started == [result.job_id]

    job = bridge.jobs.get(result.job_id)
    assert job is not None
    assert job.next_poll_at is not None
    bridge.clock.advance(job.next_poll_at - bridge.clock().timestamp() + 1)
    assert poller_of(bridge).check(result.job_id).outcome is Outcome.SUBMITTED
    assert bridge.jobs.get(result.job_id).status is JobStatus.PENDING  # type: ignore[union-attr]
    assert bridge.creates() == 1


class SlowTaskIdWrites:
    """The jobs table as the submit path sees it while DynamoDB hangs after the create: the first
    write of the task id blocks until the test releases it (or 20 s pass), then every such write
    fails like a timed-out call. Everything else goes to the real store."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.blocked = threading.Event()
        self.release = threading.Event()

    def transition(self, job: Job, new_status: JobStatus, **kwargs: Any) -> Job:
        if job.status is JobStatus.SUBMITTING and new_status is JobStatus.PENDING:
            if not self.blocked.is_set():
                self.blocked.set()
                self.release.wait(timeout=20)
            raise StoreUnavailableError("could not record the job's status")
        result: Job = self._inner.transition(job, new_status, **kwargs)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_a_hanging_task_id_write_answers_in_time_and_the_poller_recovers_the_same_task(
    bridge: Bridge,
) -> None:
    slow = SlowTaskIdWrites(bridge.jobs)
    bridge.submission._jobs = slow  # type: ignore[assignment]
    budget_s = 6.0
    try:
        started = time.monotonic()
        result = bridge.submission.submit(
            "tenant-a", "text_to_video", TEXT_TO_VIDEO, "slow-1", budget_s=budget_s
        )
        elapsed = time.monotonic() - started
        # Answered while the write still hangs, within the deadline; one create at Runway.
        assert slow.blocked.is_set()
        assert not slow.release.is_set()
        assert elapsed < budget_s
    finally:
        slow.release.set()
    assert result.status is JobStatus.SUBMITTING  # the caller's view: PENDING
    assert bridge.tasks.get_view("tenant-a", result.job_id).status == "PENDING"
    assert bridge.creates() == 1
    [task] = bridge.emulator.tasks()

    # Once the submit's lease has expired, the poller records the task from the hand-off.
    poller = poller_of(bridge)
    assert poller.check(result.job_id).outcome is Outcome.SKIPPED  # lease still live
    bridge.clock.advance(budget_s + bridge.settings.submit_lease_margin_s + 1)
    assert poller.check(result.job_id).outcome is Outcome.SUBMITTED
    job = bridge.jobs.get(result.job_id)
    assert job is not None
    assert job.status is JobStatus.PENDING
    assert job.runway_task_id == task["id"]
    assert job.lease_owner is None

    # And it finishes normally: Runway's success moves it on to the copy, with no second create.
    wait_for_runway_status(bridge, task["id"], "SUCCEEDED")
    assert poller.check(result.job_id).outcome is Outcome.COPY
    assert bridge.jobs.get(result.job_id).status is JobStatus.COPYING  # type: ignore[union-attr]
    assert bridge.jobs.outbox_events(result.job_id) == []  # no SUBMISSION_UNKNOWN on the way
    assert bridge.creates() == 1
    # The caller's retry with the same key gets the same job.
    again = bridge.submission.submit("tenant-a", "text_to_video", TEXT_TO_VIDEO, "slow-1")
    assert again.job_id == result.job_id
    assert not again.created
    assert bridge.creates() == 1
