"""Reading, listing, cancelling and deleting a tenant's jobs."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from runway_bridge.errors import (
    IdempotencyConflictError,
    InvalidRequestError,
    NotFoundError,
    RateLimitedError,
    UpstreamUnavailableError,
)
from runway_bridge.logic.links import OutputLinkSigner
from runway_bridge.logic.tasks.service import TaskService
from runway_bridge.models.job import JobOutput, JobStatus
from runway_bridge.models.records import DeliveryAttempt
from tests.unit.builders import TEXT_TO_VIDEO, ending, new_job
from tests.unit.fakes.runway import rate_limited, unavailable
from tests.unit.harness import TENANT, Harness


def _submit(h: Harness, key: str, **bridge: object) -> str:
    return h.submission.submit(TENANT, "text_to_video", {**TEXT_TO_VIDEO, **bridge}, key).job_id


def test_another_tenants_job_answers_like_an_unknown_one(h: Harness) -> None:
    job_id = _submit(h, "k")
    with pytest.raises(NotFoundError):
        h.tasks.get_view("tenant-b", job_id)
    with pytest.raises(NotFoundError):
        h.tasks.get_view(TENANT, "no-such-job")
    with pytest.raises(NotFoundError):
        h.tasks.get_view(TENANT, "../../etc")


def test_a_job_reads_in_runways_task_shape(h: Harness) -> None:
    h.runway.create_answers.append(rate_limited())
    view = h.tasks.get_view(TENANT, _submit(h, "k", reference="r-1"))
    assert view.status == "PENDING"  # QUEUED looks PENDING to an SDK
    assert view.bridge.status is JobStatus.QUEUED
    assert view.bridge.reference == "r-1"
    assert view.output is None


def test_a_succeeded_job_shows_its_copied_outputs_only(h: Harness) -> None:
    job = new_job(TENANT, status=JobStatus.COPYING, runway_task_id="t-1")
    h.jobs.create(job)
    output = JobOutput(
        index=0, s3_uri="s3://artifacts/outputs/x/0.mp4", sha256="0" * 64, content_type="video/mp4", size=3
    )
    copying_view = h.tasks.get_view(TENANT, job.job_id)
    assert (copying_view.status, copying_view.output) == ("RUNNING", None)
    h.jobs.transition(
        job,
        JobStatus.SUCCEEDED,
        changes={"outputs": [output]},
        event=ending(job, JobStatus.SUCCEEDED)["event"],
    )
    view = h.tasks.get_view(TENANT, job.job_id)
    assert view.status == "SUCCEEDED"
    assert view.output == ["https://objects.test/artifacts/outputs/x/0.mp4?expires=3600"]


def test_the_list_is_the_tenants_own_newest_first_and_filters(h: Harness) -> None:
    for minute in range(3):
        h.jobs.create(new_job(TENANT, minute=minute, bridge={"reference": f"r{minute % 2}"}))
    h.jobs.create(new_job("tenant-b"))
    page = h.tasks.list(TENANT, limit=2)
    assert [task.created_at.minute for task in page.data] == [2, 1]
    assert page.next_cursor is not None
    rest = h.tasks.list(TENANT, limit=2, cursor=page.next_cursor)
    assert [task.created_at.minute for task in rest.data] == [0]
    assert [t.bridge.reference for t in h.tasks.list(TENANT, reference="r0").data] == ["r0", "r0"]
    assert h.tasks.list(TENANT, status="running").data == []
    assert len(h.tasks.list(TENANT, status="queued").data) == 3


@pytest.mark.parametrize(("status", "limit"), [("NOT_A_STATUS", None), (None, 0), (None, 10_000)])
def test_a_bad_list_query_is_refused(h: Harness, status: str | None, limit: int | None) -> None:
    with pytest.raises(InvalidRequestError):
        h.tasks.list(TENANT, status=status, limit=limit)


def test_deleting_a_queued_job_cancels_it_unsent_and_gives_the_charge_back(h: Harness) -> None:
    h.runway.create_answers.append(rate_limited())
    job_id = _submit(h, "k")
    h.tasks.delete(TENANT, job_id)
    job = h.jobs.get(job_id)
    assert job is not None
    assert job.status is JobStatus.CANCELLED
    assert h.runway.deletes == []
    assert job.charge is not None
    assert h.jobs.daily_usage(TENANT, job.charge.day).jobs == 0
    assert [event.type for event in h.jobs.outbox_events(job_id)] == ["task.cancelled"]


def test_deleting_a_running_job_cancels_it_at_runway(h: Harness) -> None:
    task_id = h.runway.accept()
    job_id = _submit(h, "k")
    h.tasks.delete(TENANT, job_id)
    job = h.jobs.get(job_id)
    assert job is not None
    assert job.status is JobStatus.CANCELLED
    assert h.runway.deletes == [task_id]
    assert h.jobs.in_flight(TENANT) == 0


def test_a_cancel_runway_does_not_confirm_is_left_to_the_poller(h: Harness) -> None:
    job_id = _submit(h, "k")
    h.runway.delete_answers.append(unavailable())
    h.tasks.delete(TENANT, job_id)
    job = h.jobs.get(job_id)
    assert job is not None
    assert job.status is JobStatus.PENDING
    assert job.cancel_requested_at == h.clock()
    assert job.next_poll_at == pytest.approx(h.now() + h.settings.delete_budget_s + 1)


def test_deleting_a_finished_job_removes_it_and_its_objects(h: Harness) -> None:
    job = new_job(TENANT, status=JobStatus.RUNNING, runway_task_id="t-1", request_s3_key="requests/x.json")
    h.jobs.create(job)
    h.jobs.transition(job, JobStatus.FAILED, **ending(job, JobStatus.FAILED))
    h.tasks.delete(TENANT, job.job_id)
    assert h.jobs.get(job.job_id) is None
    assert h.objects.deleted == ["requests/x.json"]
    with pytest.raises(NotFoundError):
        h.tasks.delete(TENANT, job.job_id)


def test_a_job_whose_outputs_are_being_copied_cannot_be_deleted_yet(h: Harness) -> None:
    job = new_job(TENANT, status=JobStatus.COPYING, runway_task_id="t-1")
    h.jobs.create(job)
    with pytest.raises(IdempotencyConflictError):
        h.tasks.delete(TENANT, job.job_id)
    assert h.jobs.get(job.job_id) == job


def test_an_upload_passes_through_and_runways_refusals_map_to_api_errors(h: Harness) -> None:
    assert (
        h.tasks.create_upload({"filename": "a.png", "type": "ephemeral"})["runwayUri"]
        == "runway://uploads/a.png"
    )
    h.runway.upload_answer = rate_limited(5)
    with pytest.raises(RateLimitedError):
        h.tasks.create_upload({"filename": "a.png"})
    h.runway.upload_answer = unavailable()
    with pytest.raises(UpstreamUnavailableError):
        h.tasks.create_upload({"filename": "a.png"})
    with pytest.raises(InvalidRequestError):
        h.tasks.create_upload({"filename": ""})


def test_a_cancel_during_the_create_is_carried_out_once_the_task_id_is_recorded(h: Harness) -> None:
    task_id = h.runway.accept()
    job_ids: list[str] = []

    def cancel_mid_create() -> None:
        [job] = h.jobs.list_by_tenant(TENANT, status=None, limit=1, cursor=None).jobs
        job_ids.append(job.job_id)
        h.tasks.delete(TENANT, job.job_id)  # SUBMITTING: recorded, nothing sent to Runway yet

    h.runway.on_create = cancel_mid_create
    result = h.submission.submit(TENANT, "text_to_video", TEXT_TO_VIDEO, "k")
    assert result.job_id == job_ids[0]
    assert h.runway.deletes == []
    job = h.jobs.get(result.job_id)
    assert job is not None
    assert (job.status, job.runway_task_id) == (JobStatus.PENDING, task_id)
    assert job.cancel_requested_at is not None
    h.clock.advance(h.settings.first_poll_delay_s + 1)
    h.poller.check(result.job_id)
    ended = h.jobs.get(result.job_id)
    assert ended is not None
    assert ended.status is JobStatus.CANCELLED
    assert h.runway.deletes == [task_id]


def test_the_single_view_tells_the_jobs_life_in_order(h: Harness) -> None:
    job_id = _submit(h, "k", callbackUrl="https://hooks.example.com/x")
    h.clock.advance(5)
    job = h.jobs.get(job_id)
    assert job is not None
    assert job.status is JobStatus.PENDING
    running = h.jobs.transition(job, JobStatus.RUNNING, changes={"updated_at": h.clock()})
    h.clock.advance(5)
    ended = h.jobs.transition(running, JobStatus.FAILED, **ending(running, JobStatus.FAILED))
    event = h.jobs.outbox_events(job_id)[0]
    h.jobs.record_attempt(
        job_id,
        DeliveryAttempt(
            event_id=event.event_id,
            event_type=event.type,
            number=1,
            at=event.created_at + timedelta(seconds=1),
            url="https://hooks.example.com/x",
            status_code=200,
            latency_ms=35,
            error=None,
            outcome="delivered",
            answer_excerpt="thanks",
        ),
    )
    view = h.tasks.get_view(TENANT, job_id)
    assert view.to_json()["bridge"]["webhookDeliveries"][0]["answerExcerpt"] == "thanks"
    timeline = view.bridge.timeline
    assert timeline is not None
    assert [(entry.kind, entry.status or entry.event_type) for entry in timeline] == [
        ("submitted", None),
        ("status", "QUEUED"),
        ("status", "SUBMITTING"),
        ("status", "PENDING"),
        ("runway_task", None),
        ("status", "RUNNING"),
        ("status", "FAILED"),
        ("notification", "task.failed"),
        ("webhook_attempt", "task.failed"),
    ]
    assert [entry.at for entry in timeline] == sorted(entry.at for entry in timeline)
    assert timeline[4].detail == ended.runway_task_id
    assert (timeline[-1].attempt, timeline[-1].detail) == (1, "HTTP 200 in 35 ms (delivered)")
    assert all(task.bridge.timeline is None for task in h.tasks.list(TENANT).data)


def test_a_job_recorded_before_the_history_shows_what_it_has(h: Harness) -> None:
    job = new_job(TENANT, status=JobStatus.RUNNING, runway_task_id="t-old")
    h.jobs.create(job)
    timeline = h.tasks.get_view(TENANT, job.job_id).bridge.timeline
    assert timeline is not None
    assert [(entry.kind, entry.detail) for entry in timeline] == [
        ("submitted", "text_to_video gen4.5"),
        ("runway_task", "t-old"),
    ]


def _with_links(h: Harness, **settings: object) -> TaskService:
    return TaskService(
        jobs=h.jobs,
        objects=h.objects,
        runway_factory=lambda: h.runway,
        settings=h.settings.model_copy(update=settings),
        clock=h.clock,
        links=OutputLinkSigner(None, lambda: b"k" * 32, ttl_s=3600),
    )


def _succeeded(h: Harness) -> str:
    job = new_job(
        TENANT,
        status=JobStatus.SUCCEEDED,
        runway_task_id="t-1",
        outputs=[
            JobOutput(
                index=index,
                s3_uri=f"s3://artifacts/outputs/x/{index}.mp4",
                sha256="0" * 64,
                content_type="video/mp4",
                size=3,
            )
            for index in (1, 0)
        ],
    )
    h.jobs.create(job)
    return job.job_id


def test_each_output_has_a_stable_link_under_the_address_the_request_came_to(h: Harness) -> None:
    job_id = _succeeded(h)
    tasks = _with_links(h)
    view = tasks.get_view(TENANT, job_id, base_url="https://abc.execute-api.test/prod")
    for output in view.bridge.outputs:
        assert output.link is not None
        prefix = f"https://abc.execute-api.test/prod/v1/outputs/{job_id}/{output.index}?expires="
        assert output.link.startswith(prefix)
        assert output.link_expires_at == h.clock() + timedelta(hours=1)
        query = parse_qs(urlsplit(output.link).query)
        signer = OutputLinkSigner(None, lambda: b"k" * 32, ttl_s=3600)
        signer.verify(job_id, output.index, int(query["expires"][0]), query["signature"][0], now=h.clock())
    assert all(output.link is None for output in tasks.list(TENANT).data[0].bridge.outputs)
    # Without an address (and no public base URL) there is nothing to link to.
    assert all(output.link is None for output in tasks.get_view(TENANT, job_id).bridge.outputs)


def test_a_configured_public_base_url_wins_over_the_requests_address(h: Harness) -> None:
    job_id = _succeeded(h)
    tasks = _with_links(h, public_base_url="https://bridge.example.com")
    view = tasks.get_view(TENANT, job_id, base_url="https://abc.execute-api.test/prod")
    links = [output.link or "" for output in view.bridge.outputs]
    assert all(link.startswith("https://bridge.example.com/v1/outputs/") for link in links)


def test_the_list_filters_by_operation_and_model_and_refuses_unknown_operations(h: Harness) -> None:
    h.jobs.create(new_job(TENANT, minute=0, operation="image_to_video", model="gen4_turbo"))
    h.jobs.create(new_job(TENANT, minute=1))
    assert [t.bridge.operation for t in h.tasks.list(TENANT, operation="image_to_video").data] == [
        "image_to_video"
    ]
    assert [t.bridge.model for t in h.tasks.list(TENANT, model="gen4.5").data] == ["gen4.5"]
    with pytest.raises(InvalidRequestError, match="operation"):
        h.tasks.list(TENANT, operation="text_to_everything")
    with pytest.raises(InvalidRequestError, match="model"):
        h.tasks.list(TENANT, model="m" * 65)
