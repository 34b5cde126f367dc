"""Tenant limits against moto and the Runway emulator: daily limits refuse a create before anything
is stored or sent (429 + Retry-After), in-flight limits hold jobs QUEUED in order, and the counters
follow every way a job can end."""

from __future__ import annotations

from typing import Any

import pytest

from runway_bridge.adapters.poller.state import DynamoPollerState
from runway_bridge.errors import DailyLimitExceededError
from runway_bridge.logic.poller.service import PollerService
from runway_bridge.logic.tenants.usage import UsageService
from runway_bridge.models.job import (
    QUEUE_RUNWAY_BUSY,
    QUEUE_TENANT_BACKLOG,
    QUEUE_TENANT_IN_FLIGHT,
    JobStatus,
)
from runway_bridge.models.tenant import seconds_until_next_day
from tests.integration.conftest import TEXT_TO_VIDEO, Bridge, BridgeFactory, wait_for_runway_status


def jobs_stored(bridge: Bridge) -> int:
    return sum(1 for item in bridge.aws.scan(bridge.aws.jobs_table) if item["sk"]["S"] == "JOB")


def usage(bridge: Bridge, tenant: str) -> dict[str, Any]:
    return (
        UsageService(jobs=bridge.jobs, tenants=bridge.keys_store, clock=bridge.clock).usage(tenant).to_json()
    )


def poller(bridge: Bridge) -> PollerService:
    return PollerService(
        jobs=bridge.jobs,
        state=DynamoPollerState(
            bridge.aws.dynamodb, bridge.aws.jobs_table, due_shards=bridge.settings.due_shards
        ),
        submission=bridge.submission,
        runway_factory=bridge.runway_factory,
        settings=bridge.settings,
        clock=bridge.clock,
    )


def test_a_create_over_the_daily_jobs_limit_answers_429_and_stores_and_sends_nothing(bridge: Bridge) -> None:
    bridge.keys.update_limits("acme", {"max_jobs_per_day": 2})
    for _ in range(2):
        assert bridge.submission.submit("acme", "text_to_video", TEXT_TO_VIDEO).status is JobStatus.PENDING

    with pytest.raises(DailyLimitExceededError) as refused:
        bridge.submission.submit("acme", "text_to_video", TEXT_TO_VIDEO, "retry-me")

    assert refused.value.http_status == 429
    assert refused.value.code == "daily_jobs_limit"
    assert refused.value.retry_after_s == pytest.approx(seconds_until_next_day(bridge.clock()), abs=2)
    assert bridge.creates() == 2
    assert jobs_stored(bridge) == 2
    assert bridge.jobs.get_event("anything") is None
    # Another tenant is not affected.
    assert bridge.submission.submit("other", "text_to_video", TEXT_TO_VIDEO).status is JobStatus.PENDING
    assert usage(bridge, "acme")["today"]["jobs"] == 2


def test_output_seconds_and_credits_count_each_operations_duration_and_the_price_table(
    make_bridge: BridgeFactory,
) -> None:
    bridge = make_bridge(credit_prices={"gen4.5": 2.0})
    bridge.keys.update_limits("acme", {"max_output_seconds_per_day": 100, "max_credits_per_day": 25})
    bridge.submission.submit("acme", "text_to_video", {**TEXT_TO_VIDEO, "duration": 10})  # 20 credits

    with pytest.raises(DailyLimitExceededError) as refused:
        bridge.submission.submit("acme", "text_to_video", {**TEXT_TO_VIDEO, "duration": 5})  # 10 more
    assert refused.value.code == "daily_credits_limit"

    bridge.keys.update_limits("acme", {"max_credits_per_day": None, "max_output_seconds_per_day": 14})
    with pytest.raises(DailyLimitExceededError) as refused:
        bridge.submission.submit("acme", "text_to_video", {**TEXT_TO_VIDEO, "duration": 5})
    assert refused.value.code == "daily_output_seconds_limit"
    today = usage(bridge, "acme")["today"]
    assert (today["jobs"], today["outputSeconds"], today["credits"]) == (1, 10, 20.0)
    assert bridge.creates() == 1


def test_a_job_that_never_reaches_runway_gives_its_share_of_the_day_back(bridge: Bridge) -> None:
    bridge.keys.update_limits("acme", {"max_jobs_per_day": 1})
    bridge.emulator.update(fail_next=[400])  # Runway refuses the body: nothing was spent
    refused = bridge.submission.submit("acme", "text_to_video", TEXT_TO_VIDEO)
    assert refused.status is JobStatus.FAILED
    assert usage(bridge, "acme")["today"]["jobs"] == 0

    accepted = bridge.submission.submit("acme", "text_to_video", TEXT_TO_VIDEO)
    assert accepted.status is JobStatus.PENDING


def test_jobs_over_the_in_flight_limit_wait_queued_and_are_admitted_in_order(bridge: Bridge) -> None:
    bridge.emulator.update(clock_speed=0.05)  # tasks stay unfinished while the test runs
    bridge.keys.update_limits("acme", {"max_in_flight": 1})
    first = bridge.submission.submit("acme", "text_to_video", TEXT_TO_VIDEO)
    bridge.clock.advance(1)
    second = bridge.submission.submit("acme", "text_to_video", {**TEXT_TO_VIDEO, "promptText": "second"})
    bridge.clock.advance(1)
    third = bridge.submission.submit("acme", "text_to_video", {**TEXT_TO_VIDEO, "promptText": "third"})

    assert first.status is JobStatus.PENDING
    assert (second.status, third.status) == (JobStatus.QUEUED, JobStatus.QUEUED)
    assert bridge.jobs.get(second.job_id).queue_reason == QUEUE_TENANT_IN_FLIGHT  # type: ignore[union-attr]
    assert bridge.jobs.get(third.job_id).queue_reason == QUEUE_TENANT_BACKLOG  # type: ignore[union-attr]
    assert bridge.creates() == 1
    seen = usage(bridge, "acme")
    assert (seen["inFlight"], seen["queued"]) == (1, 2)
    assert seen["limits"]["maxInFlight"] == 1

    # While the place is taken, a round admits nothing of this tenant.
    rounds = poller(bridge)
    assert set(rounds.plan_round({"runId": "r1"})["jobIds"]).isdisjoint({second.job_id, third.job_id})

    bridge.tasks.delete("acme", first.job_id)  # the first ends: its place is free
    assert usage(bridge, "acme")["inFlight"] == 0
    planned = rounds.plan_round({"runId": "r1"})["jobIds"]
    assert second.job_id in planned  # the older one first: one place, one admission
    assert third.job_id not in planned
    assert rounds.check(second.job_id).status == JobStatus.PENDING.value
    assert bridge.creates() == 2
    assert rounds.check(third.job_id).status == JobStatus.QUEUED.value  # no place left
    assert bridge.creates() == 2
    assert usage(bridge, "acme")["inFlight"] == 1


def test_a_queued_backlog_never_hides_another_tenants_running_job_and_admission_takes_turns(
    bridge: Bridge,
) -> None:
    bridge.emulator.update(clock_speed=0.05)
    running = bridge.submission.submit("small", "text_to_video", TEXT_TO_VIDEO)
    rounds = poller(bridge)
    state = DynamoPollerState(bridge.aws.dynamodb, bridge.aws.jobs_table)
    now = bridge.clock().timestamp()
    state.block_runway_until(now + 600)  # Runway refuses creates: the flood piles up
    flood = [
        bridge.submission.submit("flood", "text_to_video", {**TEXT_TO_VIDEO, "promptText": f"f{i}"}).job_id
        for i in range(30)
    ]
    late = bridge.submission.submit("small", "text_to_video", {**TEXT_TO_VIDEO, "promptText": "late"})
    assert late.status is JobStatus.QUEUED
    bridge.clock.advance(30)  # the running job is due

    planned = rounds.plan_round({"runId": "r1"})
    assert planned["jobIds"] == [running.job_id]  # the backlog is not even read into the round

    bridge.clock.advance(600)  # Runway has room again
    admitted = rounds.plan_round({"runId": "r1"})["jobIds"]
    assert running.job_id in admitted
    queued_admitted = [job_id for job_id in admitted if job_id != running.job_id]
    assert len(queued_admitted) == bridge.settings.poller_queued_per_round
    # The small tenant's one job is admitted in the first round, not after 30 flood jobs.
    assert late.job_id in queued_admitted
    assert queued_admitted.index(late.job_id) <= 1
    assert bridge.creates() == 1
    assert all(job_id in flood for job_id in queued_admitted if job_id != late.job_id)


def test_a_known_runway_concurrency_is_never_exceeded_and_freed_places_are_shared_in_turns(
    make_bridge: BridgeFactory,
) -> None:
    bridge = make_bridge(runway_max_in_flight=2)
    bridge.emulator.update(clock_speed=0.05)
    sent = [bridge.submission.submit("big", "text_to_video", TEXT_TO_VIDEO) for _ in range(2)]
    held = [bridge.submission.submit("big", "text_to_video", TEXT_TO_VIDEO) for _ in range(3)]
    small = bridge.submission.submit("small", "text_to_video", TEXT_TO_VIDEO)
    assert [result.status for result in sent] == [JobStatus.PENDING] * 2
    assert {result.status for result in [*held, small]} == {JobStatus.QUEUED}
    assert bridge.jobs.get(small.job_id).queue_reason == QUEUE_RUNWAY_BUSY  # type: ignore[union-attr]
    assert bridge.creates() == 2

    rounds = poller(bridge)
    assert rounds.plan_round({"runId": "r1"})["jobIds"] == []  # no place at Runway
    bridge.tasks.delete("big", sent[0].job_id)
    planned = rounds.plan_round({"runId": "r1", "round": 0})["jobIds"]
    assert len(planned) == 1  # one place freed, one admission
    assert rounds.check(planned[0]).status == JobStatus.PENDING.value
    assert bridge.jobs.runway_in_flight() == 2
    # The next freed place goes to the other tenant: turns, not arrival order.
    bridge.tasks.delete("big", sent[1].job_id)
    second = rounds.plan_round({"runId": "r1", "round": 1})["jobIds"]
    assert len(second) == 1
    assert {planned[0], second[0]} & {small.job_id}


def test_while_jobs_wait_for_runways_places_running_tasks_are_looked_at_sooner(
    make_bridge: BridgeFactory,
) -> None:
    bridge = make_bridge(runway_max_in_flight=1)
    # A task of two emulated minutes (about 30 s here): long enough that the policy would wait long.
    bridge.emulator.update(clock_speed=4.0, min_duration_s=120.0, max_duration_s=120.0)
    running = bridge.submission.submit("big", "text_to_video", TEXT_TO_VIDEO)
    waiting = bridge.submission.submit("small", "text_to_video", TEXT_TO_VIDEO)
    assert waiting.status is JobStatus.QUEUED
    rounds = poller(bridge)
    bridge.clock.advance(60)
    plan = rounds.plan_round({"runId": "r1"})
    assert plan["queueWaiting"] is True
    assert plan["waitSeconds"] <= bridge.settings.poller_busy_poll_s  # the next round comes soon
    assert running.job_id in plan["jobIds"]
    wait_for_runway_status(bridge, str(running.runway_task_id), "RUNNING", timeout_s=60)

    rounds.check(running.job_id, queue_waiting=True)
    job = bridge.jobs.get(running.job_id)
    assert job is not None
    assert job.next_poll_at is not None
    assert job.next_poll_at - bridge.clock().timestamp() <= bridge.settings.poller_busy_poll_s

    rounds.check(running.job_id)  # nobody waits: the adaptive policy's own pace
    bridge.clock.advance(bridge.settings.poller_busy_poll_s + 1)
    rounds.check(running.job_id)
    relaxed = bridge.jobs.get(running.job_id)
    assert relaxed is not None
    assert relaxed.next_poll_at is not None
    assert relaxed.next_poll_at - bridge.clock().timestamp() > bridge.settings.poller_busy_poll_s
