"""A whole poller round in one invocation: every due job checked, the finished ones answered for the
copy queue, and the wait that ends when the next job falls due."""

from __future__ import annotations

import math

from runway_bridge.logic.poller.core import Outcome
from runway_bridge.models.job import JobStatus
from tests.unit.builders import TEXT_TO_VIDEO
from tests.unit.fakes.runway import task, unavailable
from tests.unit.harness import TENANT, Harness, build


def _running_jobs(h: Harness, count: int) -> list[tuple[str, str]]:
    """`count` jobs Runway accepted, all due now: (job id, task id)."""
    made = []
    for n in range(count):
        task_id = h.runway.accept()
        key = f"k{len(h.runway.creates)}-{n}"
        made.append((h.submission.submit(TENANT, "text_to_video", TEXT_TO_VIDEO, key).job_id, task_id))
    h.clock.advance(h.settings.first_poll_delay_s + 1)
    return made


def _round(h: Harness, **kwargs: object) -> dict[str, object]:
    return h.poller.poll_round({"runId": "run-1", "startedAt": h.now()}, **kwargs)  # type: ignore[arg-type]


def test_one_round_checks_every_due_job_and_answers_the_finished_ones_for_the_copy(h: Harness) -> None:
    (done_id, done_task), (running_id, running_task) = _running_jobs(h, 2)
    h.runway.tasks[done_task] = [task(done_task, "SUCCEEDED", output=["https://cdn.runway.test/o.mp4"])]
    h.runway.tasks[running_task] = [task(running_task, "RUNNING", progress=0.3)]
    state = _round(h)
    # The copy message carries the output URLs Runway answered: the copier need not read the task.
    assert state["copies"] == [{"jobId": done_id, "outputs": ["https://cdn.runway.test/o.mp4"]}]
    assert state["hasCopies"] is True
    outcomes = {check["jobId"]: check["outcome"] for check in state["checks"]}  # type: ignore[attr-defined]
    assert outcomes == {done_id: Outcome.COPY.value, running_id: Outcome.RESCHEDULED.value}
    copying, running = h.jobs.get(done_id), h.jobs.get(running_id)
    assert copying is not None
    assert running is not None
    assert (copying.status, running.status) == (JobStatus.COPYING, JobStatus.RUNNING)
    assert "jobIds" not in state  # the state machine carries only what it acts on


def test_the_wait_ends_when_the_next_job_falls_due_not_after_a_fixed_pause() -> None:
    h = build(poller_idle_wait_max_s=60)
    ((job_id, task_id),) = _running_jobs(h, 1)
    h.runway.tasks[task_id] = [task(task_id, "RUNNING", progress=0.5)]
    state = _round(h)
    job = h.jobs.get(job_id)
    assert job is not None
    assert job.next_poll_at is not None
    until_due = job.next_poll_at - h.now()
    assert state["done"] is False
    # Whole seconds: the next round comes once the job is within `poller_early_s` of due.
    assert until_due > 2
    assert state["waitSeconds"] == math.ceil(until_due - h.settings.poller_early_s)
    assert abs(until_due - float(state["waitSeconds"])) <= h.settings.poller_early_s  # type: ignore[arg-type]
    h.clock.advance(float(state["waitSeconds"]))  # type: ignore[arg-type]
    after = _round(h)
    assert [check["jobId"] for check in after["checks"]] == [job_id]  # type: ignore[attr-defined]


def test_a_job_due_within_a_second_is_taken_now_rather_than_after_a_wait(h: Harness) -> None:
    ((job_id, task_id),) = _running_jobs(h, 1)
    job = h.jobs.get(job_id)
    assert job is not None
    h.jobs.update(job, changes={"next_poll_at": h.now() + h.settings.poller_early_s / 2})
    h.runway.tasks[task_id] = [task(task_id, "RUNNING", progress=0.5)]
    state = _round(h)
    assert [check["jobId"] for check in state["checks"]] == [job_id]  # type: ignore[attr-defined]


def test_a_check_that_fails_leaves_its_job_due_and_the_others_are_still_checked(h: Harness) -> None:
    (broken_id, broken_task), (fine_id, fine_task) = _running_jobs(h, 2)
    h.runway.tasks[fine_task] = [task(fine_task, "SUCCEEDED", output=["https://cdn.runway.test/o.mp4"])]
    h.runway.tasks[broken_task] = [task(broken_task, "RUNNING", progress=0.1)]
    real_get = h.jobs.get

    def failing_get(job_id: str):  # type: ignore[no-untyped-def]
        if job_id == broken_id:
            raise RuntimeError("jobs table unavailable")
        return real_get(job_id)

    h.jobs.get = failing_get  # type: ignore[method-assign]
    state = _round(h)
    h.jobs.get = real_get  # type: ignore[method-assign]
    assert [copy["jobId"] for copy in state["copies"]] == [fine_id]  # type: ignore[attr-defined]
    broken = h.jobs.get(broken_id)
    assert broken is not None
    assert broken.next_poll_at is not None
    assert broken.next_poll_at <= h.now()  # still due
    assert state["waitSeconds"] == 0  # so the next round comes at once


def test_a_round_short_of_time_starts_no_check_and_leaves_the_jobs_due_for_the_next() -> None:
    h = build()
    ((job_id, task_id),) = _running_jobs(h, 1)
    h.runway.tasks[task_id] = [task(task_id, "SUCCEEDED", output=["https://cdn.runway.test/o.mp4"])]
    state = _round(h, time_left_s=lambda: 1.0)
    assert state["checks"] == []
    assert state["waitSeconds"] == 0
    job = h.jobs.get(job_id)
    assert job is not None
    assert job.status is JobStatus.PENDING
    assert [copy["jobId"] for copy in _round(h)["copies"]] == [job_id]  # type: ignore[attr-defined]


def test_runway_unreadable_in_a_round_is_looked_at_again_later_not_dropped(h: Harness) -> None:
    ((job_id, task_id),) = _running_jobs(h, 1)
    h.runway.tasks[task_id] = [unavailable()]
    state = _round(h)
    assert [check["outcome"] for check in state["checks"]] == [Outcome.RETRY_LATER.value]  # type: ignore[attr-defined]
    job = h.jobs.get(job_id)
    assert job is not None
    assert job.next_poll_at is not None
    assert job.next_poll_at > h.now()


def test_a_run_renews_its_marker_only_once_half_its_hold_has_passed(h: Harness) -> None:
    ((_, task_id),) = _running_jobs(h, 1)
    h.runway.tasks[task_id] = [task(task_id, "RUNNING", progress=0.2)]
    claims: list[str] = []
    real_claim = h.state.claim_run

    def counting_claim(run_id: str, *, now: float, hold_s: float) -> bool:
        claims.append(run_id)
        return real_claim(run_id, now=now, hold_s=hold_s)

    h.state.claim_run = counting_claim  # type: ignore[method-assign]
    run: dict[str, object] = {"runId": "run-1", "startedAt": h.now()}
    for _ in range(6):
        run = h.poller.poll_round(run)
        h.clock.advance(5)
    assert claims == ["run-1"]  # 25 s of rounds: less than half of the 90 s hold
    h.clock.advance(h.settings.poller_run_hold_s / 2)
    h.poller.poll_round(run)
    assert claims == ["run-1", "run-1"]
    # While it holds, another run is still turned away.
    assert h.poller.poll_round({"runId": "run-2", "startedAt": h.now()})["reason"] == "another run is active"


def test_the_bridge_learns_how_long_a_kind_of_task_takes_and_looks_sooner_at_quick_ones(h: Harness) -> None:
    # The model table says this model takes ~95 s; here its tasks take ~25 s. Once 20 were seen
    # finished, a new task that reports no progress is read from ~24 s on, not from ~38 s.
    def silent_wait_at(age_s: float) -> float:
        ((job_id, task_id),) = _running_jobs(h, 1)
        job = h.jobs.get(job_id)
        assert job is not None
        h.clock.advance(age_s - (h.now() - job.created_at.timestamp()))
        h.jobs.update(job, changes={"next_poll_at": h.now()})
        h.runway.tasks[task_id] = [task(task_id, "RUNNING")]
        h.poller.check(job_id)
        after = h.jobs.get(job_id)
        assert after is not None
        assert after.next_poll_at is not None
        return after.next_poll_at - h.now()

    before = silent_wait_at(10.0)
    for _ in range(20):
        ((job_id, task_id),) = _running_jobs(h, 1)
        h.clock.advance(25.0 - (h.settings.first_poll_delay_s + 1))
        job = h.jobs.get(job_id)
        assert job is not None
        h.jobs.update(job, changes={"next_poll_at": h.now()})
        h.runway.tasks[task_id] = [task(task_id, "SUCCEEDED", output=["https://cdn.runway.test/o.mp4"])]
        assert h.poller.check(job_id).outcome is Outcome.COPY
    after = silent_wait_at(10.0)
    # Waits at age 10 s, within the policy's jitter (8%):
    assert before > 25.0  # the table's prior: nothing before ~38 s
    assert after < 17.0  # learned: looks from ~24 s on
