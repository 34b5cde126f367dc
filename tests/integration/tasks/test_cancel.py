"""Cancels that finish: a DELETE of an unfinished job always records the request and answers like
Runway (204); what Runway does not confirm at once, the poller keeps sending until Runway confirms
or the task ends. Never a 5xx, never an untracked running task."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runway_bridge.errors import RunwayServerError
from runway_bridge.logic.poller.service import Outcome, PollerService
from runway_bridge.logic.ports import RunwayApi
from runway_bridge.models.job import JobStatus, job_id_for
from runway_bridge.models.operations import Operation
from tests.integration.conftest import TEXT_TO_VIDEO, Bridge, poller_of, wait_for_runway_status

DELETES = "DELETE /v1/tasks/{id}"


class RefusingDeletes:
    """Runway as the bridge sees it while it does not confirm cancels (502 after every retry)."""

    def __init__(self, inner: RunwayApi) -> None:
        self._inner = inner
        self.refuse = True
        self.refused = 0

    def delete_task(self, task_id: str, *, budget_s: float) -> None:
        if self.refuse:
            self.refused += 1
            raise RunwayServerError("Runway answered 502", status_code=502)
        self._inner.delete_task(task_id, budget_s=budget_s)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def refuse_deletes(bridge: Bridge, poller: PollerService) -> RefusingDeletes:
    refusing = RefusingDeletes(bridge.submission._runway_factory())
    bridge.tasks._runway_factory = lambda: refusing
    poller._runway_factory = lambda: refusing
    return refusing


def due(bridge: Bridge, job_id: str) -> None:
    """Move the services' clock to the job's next poll."""
    job = bridge.jobs.get(job_id)
    assert job is not None
    assert job.next_poll_at is not None
    bridge.clock.advance(max(job.next_poll_at - bridge.clock().timestamp(), 0.0) + 0.5)


def test_a_cancel_runway_refuses_is_recorded_answered_and_finished_by_the_poller(bridge: Bridge) -> None:
    bridge.emulator.update(clock_speed=0.05)  # the task stays unfinished throughout
    poller = poller_of(bridge)
    refusing = refuse_deletes(bridge, poller)
    result = bridge.submission.submit("tenant-a", "text_to_video", TEXT_TO_VIDEO)
    task_id = result.runway_task_id
    assert task_id is not None

    bridge.tasks.delete("tenant-a", result.job_id)  # no error: the API answers 204

    assert refusing.refused == 1
    job = bridge.jobs.get(result.job_id)
    assert job is not None
    assert job.status is JobStatus.PENDING  # still running at Runway, and still tracked
    assert job.cancel_requested_at is not None
    view = bridge.tasks.get_view("tenant-a", result.job_id)
    assert view.bridge.cancel_requested_at == job.cancel_requested_at
    assert bridge.jobs.outbox_events(result.job_id) == []

    # Due soon; while Runway still refuses, the poller tries again later.
    due(bridge, result.job_id)
    assert poller.check(result.job_id).outcome is Outcome.RETRY_LATER
    assert refusing.refused == 2

    # Runway confirms: cancelled there, and the job ends CANCELLED with one event.
    refusing.refuse = False
    due(bridge, result.job_id)
    check = poller.check(result.job_id)
    assert check.outcome is Outcome.TERMINAL
    assert check.status == "CANCELLED"
    wait_for_runway_status(bridge, task_id, "CANCELLED")
    finished = bridge.jobs.get(result.job_id)
    assert finished is not None
    assert finished.status is JobStatus.CANCELLED
    assert finished.failure is None
    assert [event.type for event in bridge.jobs.outbox_events(result.job_id)] == ["task.cancelled"]
    assert bridge.tasks.get_view("tenant-a", result.job_id).status == "CANCELLED"
    assert bridge.emulator.counters().get(DELETES, 0) == 1
    assert bridge.creates() == 1


def test_a_task_that_finished_before_the_pollers_cancel_is_handled_as_finished(bridge: Bridge) -> None:
    bridge.emulator.update(clock_speed=0.05)
    poller = poller_of(bridge)
    refusing = refuse_deletes(bridge, poller)
    result = bridge.submission.submit("tenant-a", "text_to_video", TEXT_TO_VIDEO)
    assert result.runway_task_id is not None
    bridge.tasks.delete("tenant-a", result.job_id)
    refusing.refuse = False

    bridge.emulator.update(clock_speed=50.0)
    wait_for_runway_status(bridge, result.runway_task_id, "SUCCEEDED")
    due(bridge, result.job_id)

    # GET before DELETE: the finished task's outputs are copied, not destroyed.
    assert poller.check(result.job_id).outcome is Outcome.COPY
    assert bridge.jobs.get(result.job_id).status is JobStatus.COPYING  # type: ignore[union-attr]
    assert bridge.emulator.counters().get(DELETES, 0) == 0


class CancelDuringCreate:
    """Runway's create, with the caller's DELETE arriving while the POST is in flight."""

    def __init__(self, bridge: Bridge, inner: RunwayApi, job_id: str) -> None:
        self._bridge = bridge
        self._inner = inner
        self._job_id = job_id

    def create_task(
        self,
        operation: Operation,
        body: Mapping[str, Any],
        *,
        budget_s: float,
        retry_rate_limited: bool = True,
    ) -> str:
        self._bridge.tasks.delete("tenant-a", self._job_id)  # the job is SUBMITTING now
        return self._inner.create_task(
            operation, body, budget_s=budget_s, retry_rate_limited=retry_rate_limited
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_a_cancel_during_the_create_is_kept_and_done_once_the_task_id_is_recorded(bridge: Bridge) -> None:
    bridge.emulator.update(clock_speed=0.05)
    job_id = job_id_for("tenant-a", "order-c")
    inner = bridge.submission._runway_factory()
    racing = CancelDuringCreate(bridge, inner, job_id)
    bridge.submission._runway_factory = lambda: racing

    result = bridge.submission.submit("tenant-a", "text_to_video", TEXT_TO_VIDEO, "order-c")

    # The task id is recorded despite the cancel request that changed the record meanwhile.
    assert result.status is JobStatus.PENDING
    assert result.runway_task_id is not None
    job = bridge.jobs.get(job_id)
    assert job is not None
    assert job.cancel_requested_at is not None

    bridge.submission._runway_factory = lambda: inner
    due(bridge, job_id)
    assert poller_of(bridge).check(job_id).outcome is Outcome.TERMINAL
    wait_for_runway_status(bridge, result.runway_task_id, "CANCELLED")
    assert bridge.jobs.get(job_id).status is JobStatus.CANCELLED  # type: ignore[union-attr]
    assert [event.type for event in bridge.jobs.outbox_events(job_id)] == ["task.cancelled"]
    assert bridge.creates() == 1


def test_a_cancel_while_runway_refuses_the_create_ends_the_job_without_sending_it(bridge: Bridge) -> None:
    bridge.emulator.update(daily_cap=0)  # the create is answered 429: provably not accepted
    job_id = job_id_for("tenant-a", "order-d")
    inner = bridge.submission._runway_factory()
    bridge.submission._runway_factory = lambda: CancelDuringCreate(bridge, inner, job_id)

    result = bridge.submission.submit("tenant-a", "text_to_video", TEXT_TO_VIDEO, "order-d")

    assert result.status is JobStatus.CANCELLED
    assert [event.type for event in bridge.jobs.outbox_events(job_id)] == ["task.cancelled"]
    assert bridge.creates() == 0
