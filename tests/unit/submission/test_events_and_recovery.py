"""The bus submit path, the poller's sends of queued jobs, and SUBMITTING jobs whose submitter
stopped: never a second create, never a job stuck without an answer."""

from __future__ import annotations

from datetime import timedelta

from runway_bridge.models.job import BRIDGE_INPUT_EXPIRED, BRIDGE_SUBMISSION_UNKNOWN, JobStatus
from runway_bridge.models.records import ApiKeyRecord
from tests.unit.builders import TEXT_TO_VIDEO
from tests.unit.fakes.clock import T0
from tests.unit.fakes.runway import rate_limited
from tests.unit.harness import TENANT, Harness


def _active(h: Harness, tenant: str = TENANT) -> None:
    h.keys_store.put(
        ApiKeyRecord(key_hash=f"hash-{tenant}", tenant_id=tenant, name="k", created_at=T0, revoked_at=None)
    )


def _event(**detail: object) -> dict[str, object]:
    return {"tenantId": TENANT, "operation": "text_to_video", "body": TEXT_TO_VIDEO, **detail}


# --- the bus ---------------------------------------------------------------------------------


def test_a_redelivered_event_maps_to_the_same_job_and_one_create(h: Harness) -> None:
    _active(h)
    first = h.submission.submit_event("ev-1", _event())
    again = h.submission.submit_event("ev-1", _event())
    assert first.job_id is not None
    assert first.status is JobStatus.PENDING
    assert (again.job_id, again.duplicate) == (first.job_id, True)
    assert len(h.runway.creates) == 1


def test_an_invalid_event_is_rejected_once_with_its_reason(h: Harness) -> None:
    _active(h)
    bad = _event(body={"model": "gen4.5", "reference": "r-9"})
    first = h.submission.submit_event("ev-2", bad)
    again = h.submission.submit_event("ev-2", bad)
    assert first.job_id is None
    assert first.rejection_code == "invalid_request"
    assert first.reference == "r-9"
    assert again.duplicate is True
    assert [r.source_event_id for r in h.rejections.rejections] == ["ev-2"]
    assert h.runway.creates == []


def test_an_event_for_a_tenant_without_a_live_key_is_rejected(h: Harness) -> None:
    result = h.submission.submit_event("ev-3", _event())
    assert result.rejection_code == "unknown_tenant"
    assert h.runway.creates == []
    assert h.jobs.writes == 0


# --- queued jobs the poller sends --------------------------------------------------------------


def test_a_queued_job_is_sent_once_by_submit_queued(h: Harness) -> None:
    h.runway.create_answers.append(rate_limited())
    queued = h.submission.submit(TENANT, "text_to_video", TEXT_TO_VIDEO, "k")
    sent = h.submission.submit_queued(queued.job_id, budget_s=20)
    assert sent is not None
    assert sent.status is JobStatus.PENDING
    assert h.submission.submit_queued(queued.job_id, budget_s=20) == h.jobs.get(queued.job_id)
    assert len(h.runway.creates) == 2  # the refused one and the accepted one


def test_a_queued_job_cancelled_meanwhile_ends_cancelled_unsent(h: Harness) -> None:
    h.runway.create_answers.append(rate_limited())
    queued = h.submission.submit(TENANT, "text_to_video", TEXT_TO_VIDEO, "k")
    job = h.jobs.get(queued.job_id)
    assert job is not None
    h.jobs.update(job, changes={"cancel_requested_at": h.clock()})
    ended = h.submission.submit_queued(queued.job_id, budget_s=20)
    assert ended is not None
    assert ended.status is JobStatus.CANCELLED
    assert len(h.runway.creates) == 1


def test_an_uploaded_input_that_expired_in_the_queue_fails_the_job(h: Harness) -> None:
    h.runway.create_answers.append(rate_limited())
    body = {"model": "gen4_turbo", "promptImage": "runway://uploads/a.png"}
    queued = h.submission.submit(TENANT, "image_to_video", body, "k")
    h.clock.advance(h.settings.input_max_age_s + 1)
    ended = h.submission.submit_queued(queued.job_id, budget_s=20)
    assert ended is not None
    assert (ended.status, ended.failure_code) == (JobStatus.FAILED, BRIDGE_INPUT_EXPIRED)
    assert len(h.runway.creates) == 1


# --- SUBMITTING jobs whose submitter stopped -----------------------------------------------------


def test_an_accepted_create_whose_task_id_write_failed_is_recovered_from_the_hand_off(h: Harness) -> None:
    task_id = h.runway.accept()
    # Runway accepts; meanwhile the table stops taking writes (every recording attempt fails).
    h.runway.on_create = lambda: h.jobs.fail_next("transition", 10)
    result = h.submission.submit(TENANT, "text_to_video", TEXT_TO_VIDEO, "k")
    assert result.status is JobStatus.SUBMITTING
    assert h.objects.handoffs == {result.job_id: task_id}
    h.jobs.failures.pending.clear()
    h.clock.advance(h.settings.api_submit_budget_s + h.settings.submit_lease_margin_s + 1)
    recovered = h.submission.resolve_expired_submission(result.job_id)
    assert recovered is not None
    assert (recovered.status, recovered.runway_task_id) == (JobStatus.PENDING, task_id)
    assert len(h.runway.creates) == 1


def test_a_submitting_job_with_an_expired_lease_and_no_hand_off_ends_unknown(h: Harness) -> None:
    h.runway.on_create = lambda: h.jobs.fail_next("transition", 10)
    h.objects.handoff_fails = True
    result = h.submission.submit(TENANT, "text_to_video", TEXT_TO_VIDEO, "k")
    assert result.status is JobStatus.SUBMITTING
    h.jobs.failures.pending.clear()
    h.objects.handoff_fails = False
    assert h.submission.resolve_expired_submission(result.job_id) == h.jobs.get(result.job_id)  # live lease
    h.clock.advance(h.settings.api_submit_budget_s + h.settings.submit_lease_margin_s + 1)
    ended = h.submission.resolve_expired_submission(result.job_id)
    assert ended is not None
    assert (ended.status, ended.failure_code) == (JobStatus.SUBMISSION_UNKNOWN, BRIDGE_SUBMISSION_UNKNOWN)
    assert len(h.runway.creates) == 1


def test_a_replay_after_the_lease_expired_resolves_instead_of_resending(h: Harness) -> None:
    h.runway.on_create = lambda: h.jobs.fail_next("transition", 10)
    h.objects.handoff_fails = True
    first = h.submission.submit(TENANT, "text_to_video", TEXT_TO_VIDEO, "k")
    h.jobs.failures.pending.clear()
    h.objects.handoff_fails = False
    h.runway.on_create = None
    h.clock.advance(timedelta(hours=1).total_seconds())
    again = h.submission.submit(TENANT, "text_to_video", TEXT_TO_VIDEO, "k")
    assert (again.job_id, again.status) == (first.job_id, JobStatus.SUBMISSION_UNKNOWN)
    assert len(h.runway.creates) == 1
