"""The API submit path: at most one create per job, and a status that tells the truth."""

from __future__ import annotations

from typing import Any

import pytest

from runway_bridge.errors import (
    CallbackUrlRefusedError,
    DailyLimitExceededError,
    IdempotencyConflictError,
    IdempotencyMismatchError,
    InvalidRequestError,
)
from runway_bridge.models.job import (
    BRIDGE_RUNWAY_REJECTED,
    BRIDGE_SUBMISSION_UNKNOWN,
    QUEUE_RUNWAY_BUSY,
    QUEUE_RUNWAY_RATE_LIMITED,
    QUEUE_TENANT_BACKLOG,
    QUEUE_TENANT_IN_FLIGHT,
    JobStatus,
)
from runway_bridge.models.tenant import TenantLimits
from tests.unit.builders import TEXT_TO_VIDEO
from tests.unit.fakes.runway import drops, rate_limited, refuses
from tests.unit.harness import TENANT, Harness, build


def submit(h: Harness, key: str | None = None, body: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    return h.submission.submit(TENANT, "text_to_video", body or TEXT_TO_VIDEO, key, **kwargs)


def test_an_accepted_create_makes_a_pending_job_with_runways_task_id(h: Harness) -> None:
    task_id = h.runway.accept()
    result = submit(h, "k1")
    assert (result.status, result.created, result.runway_task_id) == (JobStatus.PENDING, True, task_id)
    job = h.jobs.get(result.job_id)
    assert job is not None
    assert (job.status, job.runway_task_id, job.lease_owner) == (JobStatus.PENDING, task_id, None)
    assert h.runway.creates == [("text_to_video", TEXT_TO_VIDEO)]
    assert h.starter.started == [result.job_id]
    assert h.jobs.daily_usage(TENANT, job.charge.day if job.charge else "").jobs == 1
    assert h.jobs.in_flight(TENANT) == 1


def test_the_same_idempotency_key_never_sends_a_second_create(h: Harness) -> None:
    first = submit(h, "same")
    again = submit(h, "same")
    assert again.job_id == first.job_id
    assert again.created is False
    assert again.status is JobStatus.PENDING
    assert len(h.runway.creates) == 1


def test_a_key_reused_with_another_body_is_refused_and_sends_nothing(h: Harness) -> None:
    submit(h, "same")
    with pytest.raises(IdempotencyMismatchError):
        submit(h, "same", {**TEXT_TO_VIDEO, "promptText": "a different prompt"})
    assert len(h.runway.creates) == 1


def test_without_a_key_each_request_is_a_job_of_its_own(h: Harness) -> None:
    assert submit(h).job_id != submit(h).job_id
    assert len(h.runway.creates) == 2


def test_runway_429_leaves_the_job_queued_for_the_poller(h: Harness) -> None:
    h.runway.create_answers.append(rate_limited(retry_after_s=45))
    result = submit(h, "k")
    job = h.jobs.get(result.job_id)
    assert job is not None
    assert result.status is JobStatus.QUEUED
    assert job.queue_reason == QUEUE_RUNWAY_RATE_LIMITED
    assert job.next_poll_at == pytest.approx(h.now() + 45)
    assert (job.holds_slot, h.jobs.in_flight(TENANT), h.jobs.runway_in_flight()) == (False, 0, 0)
    assert h.starter.started == [result.job_id]
    assert h.jobs.outbox_events(result.job_id) == []


def test_a_create_runway_refuses_fails_the_job_and_gives_the_days_charge_back(h: Harness) -> None:
    h.runway.create_answers.append(refuses("promptText: too long"))
    result = submit(h, "k")
    job = h.jobs.get(result.job_id)
    assert job is not None
    assert result.status is JobStatus.FAILED
    assert job.failure_code == BRIDGE_RUNWAY_REJECTED
    assert "promptText: too long" in (job.failure or "")
    assert [event.type for event in h.jobs.outbox_events(job.job_id)] == ["task.failed"]
    assert job.charge is not None
    assert h.jobs.daily_usage(TENANT, job.charge.day).jobs == 0
    assert h.jobs.in_flight(TENANT) == 0


def test_a_create_whose_answer_was_lost_ends_submission_unknown_and_is_never_resent(h: Harness) -> None:
    h.runway.create_answers.append(drops())
    result = submit(h, "k")
    assert result.status is JobStatus.SUBMISSION_UNKNOWN
    job = h.jobs.get(result.job_id)
    assert job is not None
    assert job.failure_code == BRIDGE_SUBMISSION_UNKNOWN
    again = submit(h, "k")
    assert (again.status, again.created) == (JobStatus.SUBMISSION_UNKNOWN, False)
    assert len(h.runway.creates) == 1
    assert [event.type for event in h.jobs.outbox_events(result.job_id)] == ["task.submission_unknown"]


def test_a_daily_job_limit_answers_429_and_stores_nothing() -> None:
    h = build()
    h.keys_store.set_limits(TENANT, TenantLimits(max_jobs_per_day=1))
    submit(h, "first")
    with pytest.raises(DailyLimitExceededError) as refused:
        submit(h, "second")
    assert refused.value.code == "daily_jobs_limit"
    assert refused.value.retry_after_s == 12 * 3600  # the fake clock stands at noon UTC
    assert len(h.runway.creates) == 1
    assert len(h.jobs.list_by_tenant(TENANT, status=None, limit=10, cursor=None).jobs) == 1


def test_a_daily_output_seconds_limit_is_checked_before_anything_is_stored() -> None:
    h = build()
    h.keys_store.set_limits(TENANT, TenantLimits(max_output_seconds_per_day=5))
    with pytest.raises(DailyLimitExceededError) as refused:
        submit(h, "long", {**TEXT_TO_VIDEO, "duration": 10})
    assert refused.value.code == "daily_output_seconds_limit"
    assert h.runway.creates == []
    assert h.jobs.writes == 0


def test_a_tenant_at_its_in_flight_limit_waits_queued() -> None:
    h = build()
    h.keys_store.set_limits(TENANT, TenantLimits(max_in_flight=1))
    first = submit(h, "a")
    second = submit(h, "b")
    assert first.status is JobStatus.PENDING
    assert second.status is JobStatus.QUEUED
    held = h.jobs.get(second.job_id)
    assert held is not None
    assert held.queue_reason == QUEUE_TENANT_IN_FLIGHT
    assert len(h.runway.creates) == 1
    third = submit(h, "c")
    later = h.jobs.get(third.job_id)
    assert later is not None
    assert later.queue_reason == QUEUE_TENANT_BACKLOG


def test_while_runway_is_held_new_jobs_wait_queued(h: Harness) -> None:
    h.state.block_runway_until(h.now() + 30)
    result = submit(h, "k")
    job = h.jobs.get(result.job_id)
    assert job is not None
    assert job.queue_reason == QUEUE_RUNWAY_BUSY
    assert h.runway.creates == []


def test_the_bridge_wide_runway_limit_holds_new_jobs() -> None:
    h = build(runway_max_in_flight=1)
    submit(h, "a")
    second = submit(h, "b")
    assert second.status is JobStatus.QUEUED
    assert len(h.runway.creates) == 1


def test_too_little_time_left_to_send_leaves_the_job_to_the_poller(h: Harness) -> None:
    result = submit(h, "k", budget_s=h.settings.submit_min_send_s / 2)
    assert result.status is JobStatus.QUEUED
    assert h.runway.creates == []
    assert h.starter.started == [result.job_id]


@pytest.mark.parametrize(
    ("operation", "body", "key"),
    [
        ("text_to_video", {"model": "gen4.5"}, None),  # no prompt
        ("paint_a_picture", TEXT_TO_VIDEO, None),  # unknown operation
        ("text_to_video", ["not", "an", "object"], None),
        ("text_to_video", TEXT_TO_VIDEO, ""),  # empty Idempotency-Key
        ("text_to_video", TEXT_TO_VIDEO, "x" * 256),
        ("text_to_video", {**TEXT_TO_VIDEO, "events": ["task.nonsense"]}, None),
    ],
)
def test_an_invalid_request_is_refused_before_anything_is_stored(
    h: Harness, operation: str, body: Any, key: str | None
) -> None:
    with pytest.raises(InvalidRequestError):
        h.submission.submit(TENANT, operation, body, key)
    assert h.jobs.writes == 0
    assert h.runway.creates == []


def test_a_private_callback_url_is_refused(h: Harness) -> None:
    with pytest.raises(CallbackUrlRefusedError):
        submit(h, "k", {**TEXT_TO_VIDEO, "callbackUrl": "https://internal.corp/hook"})
    assert h.jobs.writes == 0


def test_bridge_fields_are_kept_on_the_job_and_not_sent_to_runway(h: Harness) -> None:
    body = {**TEXT_TO_VIDEO, "reference": "order-7", "metadata": {"a": "b"}}
    result = submit(h, "k", body)
    job = h.jobs.get(result.job_id)
    assert job is not None
    assert (job.bridge.reference, job.bridge.metadata) == ("order-7", {"a": "b"})
    assert h.runway.creates == [("text_to_video", TEXT_TO_VIDEO)]


def test_a_large_body_is_kept_in_the_object_store() -> None:
    h = build(inline_body_max_bytes=64)
    result = submit(h, "k")
    job = h.jobs.get(result.job_id)
    assert job is not None
    assert job.request_body is None
    assert job.request_s3_key is not None
    assert h.objects.bodies[job.request_s3_key] == TEXT_TO_VIDEO


def test_a_poller_that_cannot_start_does_not_fail_the_submit(h: Harness) -> None:
    h.starter.fails = True
    result = submit(h, "k")
    assert result.status is JobStatus.PENDING


def test_a_replay_while_the_first_request_is_still_sending_is_a_conflict(h: Harness) -> None:
    replies: list[Any] = []

    def replay_mid_create() -> None:
        with pytest.raises(IdempotencyConflictError):
            submit(h, "k")
        replies.append("conflict")

    h.runway.on_create = replay_mid_create
    result = submit(h, "k")
    assert replies == ["conflict"]
    assert result.status is JobStatus.PENDING
    assert len(h.runway.creates) == 1
