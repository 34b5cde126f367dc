"""Submit through the API -> the emulator finishes -> the real poller ASL (moto) -> the copier -> S3,
watched the way callers watch: task views over HTTP, the official SDK, the S3 objects, the outbox."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from runwayml import RunwayML

from runway_bridge.adapters.poller.state import DynamoPollerState
from runway_bridge.models.job import Job, JobStatus, job_id_for, request_fingerprint
from runway_bridge_dev.local.stack import LocalStack
from tests.e2e.api.conftest import Tenant, sample_body
from tests.integration.poller.conftest import (
    SCHEDULE,
    emulator_of,
    jobs_store,
    outbox,
    runway_task,
    s3_object,
    sha256_hex,
    stored_job,
    submit,
    task_view,
    wait_until,
    watch_until_finished,
)


@pytest.mark.slow
def test_succeeded_job_is_copied_to_s3_byte_for_byte_and_the_sdk_sees_s3_urls(
    stack: LocalStack, api: httpx.Client, tenant: Tenant
) -> None:
    job_id = submit(api, tenant, "image_to_video")
    statuses: list[str] = []
    with RunwayML(api_key=tenant.key, base_url=stack.api_url, max_retries=0, timeout=40) as sdk:

        def sdk_finished() -> Any:
            task = sdk.tasks.retrieve(job_id)
            if not statuses or statuses[-1] != task.status:
                statuses.append(task.status)
            return task if task.status in {"SUCCEEDED", "FAILED"} else None

        task = wait_until(sdk_finished, timeout_s=45, interval_s=0.2)
    assert task.status == "SUCCEEDED", statuses
    # Never SUCCEEDED before the copy was done: RUNNING (or PENDING) first, then SUCCEEDED once.
    assert statuses[-1] == "SUCCEEDED"
    assert statuses.count("SUCCEEDED") == 1
    assert set(statuses[:-1]) <= {"PENDING", "THROTTLED", "RUNNING"}
    output_urls = task.output  # type: ignore[attr-defined]
    assert output_urls
    emulator_url = emulator_of(stack).base_url
    assert all(not url.startswith(emulator_url) for url in output_urls)

    view = task_view(api, tenant, job_id)
    outputs = view["bridge"]["outputs"]
    assert len(outputs) == len(output_urls)
    runway = runway_task(stack, view["bridge"]["runwayTaskId"])
    for output, runway_url in zip(outputs, runway["output"], strict=True):
        served = httpx.get(runway_url, timeout=10).content
        copied = s3_object(stack, output["s3Uri"])
        assert copied == served
        assert output["sha256"] == sha256_hex(served)
        # The presigned URL the SDK got serves the same bytes.
        assert httpx.get(output["url"], timeout=10).content == served

    job = stored_job(stack, job_id)
    assert job.status is JobStatus.SUCCEEDED
    assert job.poll_count >= 1
    assert job.lease_owner is None
    events = outbox(stack, job_id)
    assert [event.type for event in events] == ["task.succeeded"]


@pytest.mark.slow
def test_failed_task_ends_failed_with_runways_failure_code_and_one_event(
    stack: LocalStack, api: httpx.Client, tenant: Tenant
) -> None:
    job_id = submit(api, tenant, "image_to_video", promptText="a red kite [fail:SAFETY.OUTPUT.VIDEO]")
    view, seen = watch_until_finished(api, tenant, job_id)
    assert view["status"] == "FAILED", seen
    assert view["failureCode"] == "SAFETY.OUTPUT.VIDEO"
    job = stored_job(stack, job_id)
    assert job.status is JobStatus.FAILED
    assert job.failure_code == "SAFETY.OUTPUT.VIDEO"
    events = outbox(stack, job_id)
    assert [event.type for event in events] == ["task.failed"]
    assert events[0].payload["failureCode"] == "SAFETY.OUTPUT.VIDEO"
    # Nothing was copied for a failed task.
    assert job.outputs == []


@pytest.mark.slow
def test_task_cancelled_at_runway_ends_cancelled(
    stack: LocalStack, api: httpx.Client, tenant: Tenant
) -> None:
    job_id = submit(api, tenant, "image_to_video")
    task_id = str(task_view(api, tenant, job_id)["bridge"]["runwayTaskId"])
    emulator = emulator_of(stack)
    # Someone with the account's Runway key cancels it outside the bridge.
    cancelled = httpx.delete(
        f"{emulator.base_url}/v1/tasks/{task_id}",
        headers={"Authorization": f"Bearer {emulator.api_key}", "X-Runway-Version": "2024-11-06"},
        timeout=10,
    )
    assert cancelled.status_code == 204, cancelled.text
    view, seen = watch_until_finished(api, tenant, job_id)
    assert view["status"] == "CANCELLED", seen
    assert [event.type for event in outbox(stack, job_id)] == ["task.cancelled"]


@pytest.mark.slow
def test_throttled_job_is_followed_until_it_runs_and_succeeds(
    stack: LocalStack, api: httpx.Client, tenant: Tenant
) -> None:
    emulator = emulator_of(stack)
    emulator.update(concurrency_per_model=1, durations={"sound_effect_v1": 12.0})
    seen: dict[str, list[str]] = {}
    try:
        # Same model, one slot: the second waits THROTTLED behind the first.
        jobs = [submit(api, tenant, "sound_effect"), submit(api, tenant, "sound_effect")]

        def both_finished() -> bool:
            for job_id in jobs:
                status = task_view(api, tenant, job_id)["status"]
                history = seen.setdefault(job_id, [])
                if not history or history[-1] != status:
                    history.append(status)
            return all(seen[job_id][-1] in {"SUCCEEDED", "FAILED", "CANCELLED"} for job_id in jobs)

        wait_until(both_finished, timeout_s=90, interval_s=0.2)
    finally:
        emulator.update(concurrency_per_model=None, durations=None)
    first, second = jobs
    assert seen[first][-1] == "SUCCEEDED", seen
    assert seen[second][-1] == "SUCCEEDED", seen
    # The poller saw (and the task view showed) the wait behind Runway's concurrency limit.
    assert "THROTTLED" in seen[second], seen
    assert [event.type for event in outbox(stack, second)] == ["task.succeeded"]


@pytest.mark.slow
def test_job_queued_by_a_429_is_submitted_by_the_poller_exactly_once(
    stack: LocalStack, api: httpx.Client, tenant: Tenant
) -> None:
    emulator = emulator_of(stack)
    before = emulator.counters().get("POST /v1/image_to_video", 0)
    emulator.update(fail_next=[429], retry_after_s=1)
    try:
        job_id = submit(api, tenant, "image_to_video")
        assert stored_job(stack, job_id).status is JobStatus.QUEUED
        view, seen = watch_until_finished(api, tenant, job_id, timeout_s=60)
    finally:
        emulator.update(fail_next=[], retry_after_s=None)
    assert view["status"] == "SUCCEEDED", seen
    # One refused create (429), then exactly one accepted create by the poller.
    assert emulator.counters().get("POST /v1/image_to_video", 0) - before == 2
    assert [event.type for event in outbox(stack, job_id)] == ["task.succeeded"]


@pytest.mark.slow
def test_job_survives_a_5xx_storm_while_being_polled(
    stack: LocalStack, api: httpx.Client, tenant: Tenant
) -> None:
    emulator = emulator_of(stack)
    job_id = submit(api, tenant, "image_to_video")
    # Every answer fails for a while (the poller's GETs, their retries, the next rounds' GETs).
    emulator.update(fail_next=[503, 502, 500, 504, 503, 502, 503, 504])
    try:
        view, seen = watch_until_finished(api, tenant, job_id, timeout_s=90)
    finally:
        emulator.update(fail_next=[])
    assert view["status"] == "SUCCEEDED", seen
    assert [event.type for event in outbox(stack, job_id)] == ["task.succeeded"]


def test_submitting_job_whose_lease_expired_ends_submission_unknown_without_a_create(
    stack: LocalStack, tenant: Tenant
) -> None:
    # A submit Lambda that died mid-POST: the job is SUBMITTING with a lease that has run out.
    emulator = emulator_of(stack)
    creates_before = sum(
        count for route, count in emulator.counters().items() if route.startswith("POST /v1/")
    )
    now = datetime.now(UTC)
    body = sample_body("image_to_video")
    body.pop("callbackUrl", None)
    job = Job(
        job_id=job_id_for(tenant.tenant_id, f"died-{time.time_ns()}"),
        tenant_id=tenant.tenant_id,
        operation="image_to_video",
        model=str(body["model"]),
        status=JobStatus.SUBMITTING,
        created_at=now,
        updated_at=now,
        request_hash=request_fingerprint("image_to_video", body),
        request_body=body,
        lease_owner="submit-dead",
        lease_expires_at=now.timestamp() - 1,
        next_poll_at=now.timestamp() - 1,
    )
    jobs_store(stack).create(job)
    stack.scheduler.fire_now(SCHEDULE)  # the minute tick

    def finished_job() -> Job | None:
        found = stored_job(stack, job.job_id)
        return found if found.is_terminal else None

    finished = wait_until(finished_job, timeout_s=30)
    assert finished.status is JobStatus.SUBMISSION_UNKNOWN
    assert [event.type for event in outbox(stack, job.job_id)] == ["task.submission_unknown"]
    creates_after = sum(
        count for route, count in emulator.counters().items() if route.startswith("POST /v1/")
    )
    assert creates_after == creates_before


def test_a_run_yields_to_a_live_run_and_ends_when_nothing_is_due(stack: LocalStack) -> None:
    sfn = stack.aws.boto3_client("stepfunctions")
    state = DynamoPollerState(stack.aws.boto3_client("dynamodb"), stack.aws.physical_id("JobsTable"))

    def run_output() -> dict[str, object]:
        arn = stack.scheduler.fire_now(SCHEDULE).detail

        def finished() -> dict[str, object] | None:
            described = sfn.describe_execution(executionArn=arn)
            return described if described["status"] != "RUNNING" else None

        described = wait_until(finished, timeout_s=60)
        assert described["status"] == "SUCCEEDED", described
        output: dict[str, object] = json.loads(str(described["output"]))
        return output

    # Let earlier tests' runs finish, then hold the marker as a live run would.
    wait_until(lambda: state.claim_run("live-run", now=time.time(), hold_s=30), timeout_s=60)
    try:
        yielded = run_output()
    finally:
        state.release_run("live-run")
    assert yielded["done"] is True
    assert yielded["reason"] == "another run is active"
    assert yielded["round"] == 1

    idle = run_output()
    assert idle["done"] is True
    assert idle["reason"] == "nothing due before the run ends"
