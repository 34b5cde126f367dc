"""Task views, listing, delete semantics and the upload pass-through, against moto and the
emulator."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest
from runwayml.types import task_retrieve_response as sdk_types

from runway_bridge.errors import IdempotencyConflictError, InvalidRequestError, NotFoundError
from runway_bridge.models.job import BRIDGE_SUBMISSION_UNKNOWN, BRIDGE_TIMED_OUT, JobOutput, JobStatus
from runway_bridge.models.runway import parse_task
from tests.integration.conftest import TEXT_TO_VIDEO, Bridge, wait_for_runway_status
from tests.unit.builders import new_job

SDK_TASK_MODELS: dict[str, Any] = {
    "PENDING": sdk_types.Pending,
    "THROTTLED": sdk_types.Throttled,
    "RUNNING": sdk_types.Running,
    "SUCCEEDED": sdk_types.Succeeded,
    "FAILED": sdk_types.Failed,
    "CANCELLED": sdk_types.Cancelled,
}


def store_output(bridge: Bridge, job_id: str, content: bytes) -> JobOutput:
    key = f"outputs/{job_id}/0.mp4"
    bridge.aws.s3.put_object(Bucket=bridge.aws.bucket, Key=key, Body=content, ContentType="video/mp4")
    return JobOutput(
        index=0,
        s3_uri=f"s3://{bridge.aws.bucket}/{key}",
        sha256=hashlib.sha256(content).hexdigest(),
        content_type="video/mp4",
        size=len(content),
    )


@pytest.mark.parametrize(
    ("status", "shown", "failure_code"),
    [
        (JobStatus.QUEUED, "PENDING", None),
        (JobStatus.SUBMITTING, "PENDING", None),
        (JobStatus.PENDING, "PENDING", None),
        (JobStatus.THROTTLED, "THROTTLED", None),
        (JobStatus.RUNNING, "RUNNING", None),
        (JobStatus.COPYING, "RUNNING", None),
        (JobStatus.CANCELLED, "CANCELLED", None),
        (JobStatus.TIMED_OUT, "FAILED", BRIDGE_TIMED_OUT),
        (JobStatus.SUBMISSION_UNKNOWN, "FAILED", BRIDGE_SUBMISSION_UNKNOWN),
    ],
)
def test_each_job_status_reads_as_the_runway_status_sdk_code_expects(
    bridge: Bridge, status: JobStatus, shown: str, failure_code: str | None
) -> None:
    job = new_job(status=status, runway_task_id="rw-1", runway_status="SUCCEEDED")
    bridge.jobs.create(job)

    view = bridge.tasks.get_view("tenant-a", job.job_id).to_json()

    assert view["id"] == job.job_id
    assert view["status"] == shown
    assert view.get("failureCode") == failure_code
    assert "output" not in view  # never Runway's expiring URLs, not even while COPYING
    assert view["bridge"]["status"] == status.value
    assert view["bridge"]["runwayTaskId"] == "rw-1"
    # Our Runway parser and the official SDK's models both accept it as the variant of that status.
    assert parse_task(view).status == shown
    sdk_model = SDK_TASK_MODELS[shown]
    assert sdk_model.model_validate(view).status == shown
    if shown == "FAILED":
        assert view["failure"]


def test_a_succeeded_job_serves_working_presigned_s3_urls_and_checksums(bridge: Bridge) -> None:
    content = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4
    job = new_job(status=JobStatus.SUCCEEDED)
    job = job.model_copy(update={"outputs": [store_output(bridge, job.job_id, content)]})
    bridge.jobs.create(job)

    view = bridge.tasks.get_view("tenant-a", job.job_id)

    assert view.status == "SUCCEEDED"
    assert sdk_types.Succeeded.model_validate(view.to_json()).output == view.output
    assert view.output is not None
    assert len(view.output) == 1
    downloaded = httpx.get(view.output[0], timeout=5)
    assert downloaded.status_code == 200
    assert downloaded.content == content
    output = view.bridge.outputs[0]
    assert output.sha256 == hashlib.sha256(content).hexdigest()
    assert output.size == len(content)


def test_a_failed_job_keeps_runways_failure_and_code(bridge: Bridge) -> None:
    job = new_job(status=JobStatus.FAILED, failure="Content moderation", failure_code="SAFETY.INPUT.TEXT")
    bridge.jobs.create(job)

    view = bridge.tasks.get_view("tenant-a", job.job_id).to_json()
    assert (view["status"], view["failure"], view["failureCode"]) == (
        "FAILED",
        "Content moderation",
        "SAFETY.INPUT.TEXT",
    )


def test_another_tenants_job_is_not_found_exactly_like_an_unknown_id(bridge: Bridge) -> None:
    job = new_job()
    bridge.jobs.create(job)

    for tenant, job_id in (("tenant-b", job.job_id), ("tenant-a", "0" * 36), ("tenant-a", "../JOB#x")):
        with pytest.raises(NotFoundError) as missing:
            bridge.tasks.get_view(tenant, job_id)
        assert missing.value.http_status == 404
        assert missing.value.message == "Task not found."
    with pytest.raises(NotFoundError):
        bridge.tasks.delete("tenant-b", job.job_id)
    assert bridge.jobs.get(job.job_id) == job


def test_listing_shows_only_the_callers_jobs_filtered_and_paged(bridge: Bridge) -> None:
    for index in range(3):
        bridge.submission.submit("tenant-a", "text_to_video", {**TEXT_TO_VIDEO, "reference": f"r{index % 2}"})
    bridge.submission.submit("tenant-b", "text_to_video", {**TEXT_TO_VIDEO, "reference": "r0"})

    everything = bridge.tasks.list("tenant-a", limit=2)
    assert len(everything.data) == 2
    assert everything.next_cursor is not None
    rest = bridge.tasks.list("tenant-a", limit=2, cursor=everything.next_cursor)
    assert len(rest.data) == 1
    assert rest.next_cursor is None
    assert {view.bridge.reference for view in bridge.tasks.list("tenant-a", reference="r0").data} == {"r0"}
    assert len(bridge.tasks.list("tenant-a", reference="r0").data) == 2
    assert len(bridge.tasks.list("tenant-a", status="pending").data) == 3
    assert bridge.tasks.list("tenant-a", status="SUCCEEDED").data == []


@pytest.mark.parametrize(
    "query", [{"status": "DONE"}, {"limit": 0}, {"limit": 101}, {"reference": ""}, {"cursor": "x"}]
)
def test_bad_list_queries_answer_400(bridge: Bridge, query: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequestError):
        bridge.tasks.list("tenant-a", **query)


def test_deleting_a_submitted_unfinished_job_cancels_it_at_runway_too(bridge: Bridge) -> None:
    bridge.emulator.update(clock_speed=0.05)  # keep the task unfinished while we cancel it
    result = bridge.submission.submit("tenant-a", "text_to_video", TEXT_TO_VIDEO)
    assert result.runway_task_id is not None

    bridge.tasks.delete("tenant-a", result.job_id)

    job = bridge.jobs.get(result.job_id)
    assert job is not None
    assert job.status is JobStatus.CANCELLED
    assert [event.type for event in bridge.jobs.outbox_events(result.job_id)] == ["task.cancelled"]
    wait_for_runway_status(bridge, result.runway_task_id, "CANCELLED")
    assert bridge.tasks.get_view("tenant-a", result.job_id).status == "CANCELLED"


def test_deleting_a_queued_job_cancels_it_without_calling_runway(bridge: Bridge) -> None:
    bridge.emulator.update(daily_cap=0)
    result = bridge.submission.submit("tenant-a", "text_to_video", TEXT_TO_VIDEO)
    assert result.status is JobStatus.QUEUED

    bridge.tasks.delete("tenant-a", result.job_id)

    assert bridge.jobs.get(result.job_id).status is JobStatus.CANCELLED  # type: ignore[union-attr]
    assert bridge.creates() == 0


def test_deleting_a_job_whose_create_is_in_flight_records_the_cancel_request(bridge: Bridge) -> None:
    job = new_job(status=JobStatus.SUBMITTING)
    bridge.jobs.create(job)

    bridge.tasks.delete("tenant-a", job.job_id)  # answered 204 at the API

    stored = bridge.jobs.get(job.job_id)
    assert stored is not None
    assert stored.status is JobStatus.SUBMITTING
    assert stored.cancel_requested_at is not None
    assert bridge.tasks.get_view("tenant-a", job.job_id).bridge.cancel_requested_at is not None
    assert bridge.jobs.outbox_events(job.job_id) == []


def test_deleting_a_job_whose_outputs_are_being_copied_answers_409(bridge: Bridge) -> None:
    # Runway already finished it: nothing runs or is charged any more; a retry deletes it later.
    job = new_job(status=JobStatus.COPYING)
    bridge.jobs.create(job)

    with pytest.raises(IdempotencyConflictError) as busy:
        bridge.tasks.delete("tenant-a", job.job_id)
    assert busy.value.http_status == 409
    assert bridge.jobs.get(job.job_id) == job


def test_deleting_a_finished_job_removes_it_and_its_s3_copies_then_404(bridge: Bridge) -> None:
    job = new_job(status=JobStatus.SUCCEEDED, request_body=None, request_s3_key="requests/x/h.json")
    bridge.objects.put_request_body("requests/x/h.json", TEXT_TO_VIDEO)
    job = job.model_copy(update={"outputs": [store_output(bridge, job.job_id, b"video")]})
    bridge.jobs.create(job)
    assert len(bridge.aws.object_keys()) == 2

    bridge.tasks.delete("tenant-a", job.job_id)

    assert bridge.aws.object_keys() == []
    with pytest.raises(NotFoundError):
        bridge.tasks.get_view("tenant-a", job.job_id)
    with pytest.raises(NotFoundError):
        bridge.tasks.delete("tenant-a", job.job_id)


def test_uploads_pass_through_to_runway(bridge: Bridge) -> None:
    upload = bridge.tasks.create_upload({"filename": "frame.png", "type": "ephemeral"})

    assert upload["runwayUri"].startswith("runway://")
    assert upload["uploadUrl"].startswith(bridge.emulator.base_url)
    with pytest.raises(InvalidRequestError):
        bridge.tasks.create_upload({"filename": "../etc/passwd"})
    with pytest.raises(InvalidRequestError):
        bridge.tasks.create_upload(["frame.png"])


def test_costs_and_progress_read_as_recorded_and_as_zero_while_unknown(bridge: Bridge) -> None:
    running = new_job(status=JobStatus.RUNNING, progress=0.4, estimated_credits=25.0)
    finished = new_job(status=JobStatus.FAILED, failure="x", cost_credits=20)
    unknown = new_job(status=JobStatus.RUNNING)
    for job in (running, finished, unknown):
        bridge.jobs.create(job)

    assert bridge.tasks.get_view("tenant-a", running.job_id).to_json()["estimatedCost"] == {"credits": 25.0}
    assert bridge.tasks.get_view("tenant-a", running.job_id).progress == 0.4
    assert bridge.tasks.get_view("tenant-a", finished.job_id).to_json()["cost"] == {"credits": 20}
    assert "estimatedCost" not in bridge.tasks.get_view("tenant-a", finished.job_id).to_json()
    shown = bridge.tasks.get_view("tenant-a", unknown.job_id).to_json()
    assert (shown["estimatedCost"], shown["progress"]) == ({"credits": 0.0}, 0.0)
