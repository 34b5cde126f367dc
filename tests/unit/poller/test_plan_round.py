"""A poller round: which due jobs it looks at, and how queued jobs of many tenants take turns."""

from __future__ import annotations

from typing import Any

from runway_bridge.logic.poller.core import _take_turns
from runway_bridge.models.job import JobStatus
from runway_bridge.models.tenant import TenantLimits
from tests.unit.builders import TEXT_TO_VIDEO
from tests.unit.harness import Harness, build


def _queue(h: Harness, tenant: str, count: int) -> list[str]:
    """`count` jobs of `tenant`, left QUEUED (Runway is held while they are submitted)."""
    held = h.state.busy_until
    h.state.busy_until = h.now() + 3600
    ids = []
    for n in range(count):
        ids.append(h.submission.submit(tenant, "text_to_video", TEXT_TO_VIDEO, f"{tenant}-{n}").job_id)
        h.clock.advance(1)
    h.state.busy_until = held
    return ids


def _plan(h: Harness, run_id: str = "run-1") -> dict[str, Any]:
    return h.poller.plan_round({"runId": run_id, "startedAt": h.now()})


def test_queued_jobs_take_turns_across_tenants_oldest_first() -> None:
    h = build(poller_queued_per_round=2)
    flood = _queue(h, "tenant-flood", 3)
    single = _queue(h, "tenant-single", 1)
    plan = _plan(h)
    assert plan["jobIds"] == [flood[0], single[0]] or plan["jobIds"] == [single[0], flood[0]]
    assert plan["queueWaiting"] is True


def test_a_tenant_whose_places_are_taken_is_not_admitted() -> None:
    h = build()
    h.keys_store.set_limits("tenant-full", TenantLimits(max_in_flight=1))
    h.submission.submit("tenant-full", "text_to_video", TEXT_TO_VIDEO, "running")  # takes the place
    waiting = _queue(h, "tenant-full", 1)
    other = _queue(h, "tenant-free", 1)
    plan = _plan(h)
    assert other[0] in plan["jobIds"]
    assert waiting[0] not in plan["jobIds"]


def test_nothing_is_admitted_while_runway_is_held(h: Harness) -> None:
    queued = _queue(h, "tenant-a", 1)
    h.state.block_runway_until(h.now() + 30)
    plan = _plan(h)
    assert plan["jobIds"] == []
    # Runway's hold ends by itself: running tasks are not read faster for it, the run comes back then.
    assert plan["queueWaiting"] is False
    assert plan["done"] is False
    assert plan["waitSeconds"] <= 30
    h.clock.advance(31)
    assert _plan(h)["jobIds"] == queued


def test_a_second_run_ends_while_another_holds_the_marker(h: Harness) -> None:
    _queue(h, "tenant-a", 1)
    assert _plan(h, "run-1")["done"] is False
    second = _plan(h, "run-2")
    assert (second["done"], second["reason"]) == (True, "another run is active")


def test_a_run_with_nothing_due_ends(h: Harness) -> None:
    plan = _plan(h)
    assert plan["done"] is True
    assert h.state.run is None  # the marker is let go


def _successors(h: Harness) -> list[str]:
    return [started for started in h.starter.started if started.startswith("after-")]


def test_a_run_whose_time_is_up_starts_the_next_one_when_a_job_is_due() -> None:
    h = build(poller_run_max_s=240.0)
    started_at = h.now()
    job_id = h.submission.submit("tenant-a", "text_to_video", TEXT_TO_VIDEO, "k").job_id
    assert h.poller.plan_round({"runId": "run-1", "startedAt": started_at})["done"] is False
    h.clock.advance(241)  # the job is due again within the minute, the run's time is up
    plan = h.poller.plan_round({"runId": "run-1", "startedAt": started_at})
    assert (plan["done"], plan["reason"]) == (True, "run time is up")
    assert _successors(h) == ["after-run-1"]  # not left until the next minute tick
    assert h.jobs.get(job_id) is not None


def test_a_run_whose_time_is_up_with_nothing_due_starts_no_other(h: Harness) -> None:
    started_at = h.now()
    h.clock.advance(h.settings.poller_run_max_s + 1)
    plan = h.poller.plan_round({"runId": "run-1", "startedAt": started_at})
    assert (plan["done"], plan["reason"]) == (True, "run time is up")
    assert _successors(h) == []


def test_a_round_lists_due_jobs_at_runway(h: Harness) -> None:
    job_id = h.submission.submit("tenant-a", "text_to_video", TEXT_TO_VIDEO, "k").job_id
    job = h.jobs.get(job_id)
    assert job is not None
    assert job.status is JobStatus.PENDING
    plan = _plan(h)
    assert plan["jobIds"] == []  # its first look is a few seconds away
    assert isinstance(plan["waitSeconds"], int)
    assert plan["waitSeconds"] >= 1
    h.clock.advance(h.settings.first_poll_delay_s + 1)
    assert _plan(h)["jobIds"] == [job_id]


def test_each_turn_goes_to_the_tenant_with_fewest_jobs_in_flight() -> None:
    queues = {"big": ["b1", "b2", "b3"], "small": ["s1", "s2"]}
    admitted = _take_turns(queues, {"big": 5, "small": 0}, 4, round_number=0)
    assert admitted[:2] == ["s1", "s2"]  # small catches up first
    assert admitted[2:] == ["b1", "b2"]
    rotated = [_take_turns({"a": ["a1"], "b": ["b1"]}, {}, 1, round_number=n) for n in range(2)]
    assert rotated == [["a1"], ["b1"]]  # ties move every round


def _one_job_next_looked_at(h: Harness, at: float) -> None:
    job_id = h.submission.submit("tenant-a", "text_to_video", TEXT_TO_VIDEO, "k").job_id
    job = h.jobs.get(job_id)
    assert job is not None
    h.jobs.update(job, changes={"next_poll_at": at})


def test_a_run_ending_with_a_job_due_just_after_its_time_starts_the_next_one() -> None:
    h = build(poller_run_max_s=240.0)
    started_at = h.now()
    # Its next look falls 20 s after the run's last moment: no round of this run can take it.
    _one_job_next_looked_at(h, started_at + 260)
    h.clock.advance(230)
    plan = h.poller.plan_round({"runId": "run-1", "startedAt": started_at})
    assert (plan["done"], plan["reason"]) == (True, "nothing due before the run ends")
    assert _successors(h) == ["after-run-1"]  # not left up to a minute for the tick


def test_a_run_ending_with_nothing_due_for_minutes_leaves_it_to_the_tick() -> None:
    h = build(poller_run_max_s=240.0)
    started_at = h.now()
    _one_job_next_looked_at(h, started_at + 600)
    h.jobs.roster.clear()  # no tenant has a queue waiting either
    plan = h.poller.plan_round({"runId": "run-1", "startedAt": started_at})
    assert plan["done"] is True
    assert _successors(h) == []
