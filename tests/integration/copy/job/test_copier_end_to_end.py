"""The copier function through the local runtime: a COPYING job's id on CopyQueue → the SQS poller
runs the real handler → the outputs are in S3 with the bytes and SHA-256 Runway (the emulator)
served → the job is SUCCEEDED with one outbox event, and the API shows S3 links."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from runway_bridge.models.job import BRIDGE_COPY_FAILED, JobStatus
from tests.e2e.api.conftest import Tenant
from tests.integration.copy.job.conftest import Bridge, sha256, start_bridge, wait_for

# Runway's output URLs live 60 s on the emulator's clock: 3 s here.
URL_TTL_S = 60.0


@pytest.fixture(scope="module")
def bridge() -> Iterator[Bridge]:
    yield from start_bridge(
        environment={"BRIDGE_COPY_RETRY_BASE_S": "0.5", "BRIDGE_COPY_RETRY_MAX_S": "1"},
        output_url_ttl_s=URL_TTL_S,
    )


def test_a_copying_job_ends_succeeded_with_the_bytes_runway_served(
    bridge: Bridge, api: httpx.Client, tenant: Tenant
) -> None:
    job_id = bridge.submit(tenant, api)
    copying = bridge.finished_at_runway(job_id)
    if bridge.to_copying(job_id, copying, send=False):
        # Until the copy is done the SDK sees RUNNING, never Runway's expiring URLs.
        view = api.get(f"/v1/tasks/{job_id}", headers=tenant.bearer).json()
        assert view["status"] == "RUNNING"
        assert not view.get("output")
        bridge.send_copy(job_id)

    job = bridge.finished(job_id)

    served = bridge.served_bytes(copying)
    assert job.status is JobStatus.SUCCEEDED
    assert [output.index for output in job.outputs] == list(range(len(served)))
    for output, body in zip(job.outputs, served, strict=True):
        assert output.s3_uri.startswith(f"s3://{bridge.bucket}/outputs/{job_id}/")
        assert bridge.stored(output.s3_uri) == body
        assert output.sha256 == sha256(body)
        assert output.size == len(body)
        assert output.content_type == "video/mp4"
    [event] = bridge.jobs.outbox_events(job_id)
    assert event.type == "task.succeeded"
    assert event.payload["outputs"] == [o.model_dump(mode="json", by_alias=True) for o in job.outputs]
    assert bridge.open_uploads() == []

    view = api.get(f"/v1/tasks/{job_id}", headers=tenant.bearer).json()
    assert view["status"] == "SUCCEEDED"
    assert len(view["output"]) == len(served)
    for url, body in zip(view["output"], served, strict=True):
        assert url.startswith(bridge.stack.aws.endpoint_url)  # an S3 presigned URL, not Runway's
        assert "Signature=" in url
        assert httpx.get(url).content == body


def test_a_message_with_runways_output_urls_is_copied_without_reading_the_task_again(
    bridge: Bridge, api: httpx.Client, tenant: Tenant
) -> None:
    job_id = bridge.submit(tenant, api)
    copying = bridge.finished_at_runway(job_id)
    urls = list(bridge.runway_task(copying)["output"])  # what the poller's look answered
    if not bridge.to_copying(job_id, copying, send=False):
        pytest.skip("a poller run handed the job to the copier first")
    runway_gets = bridge.emulator.counters().get("GET /v1/tasks/{id}", 0)
    bridge.send_copy(job_id, outputs=urls)

    job = bridge.finished(job_id)

    assert bridge.emulator.counters().get("GET /v1/tasks/{id}", 0) == runway_gets  # Runway not asked
    assert job.status is JobStatus.SUCCEEDED
    assert [bridge.stored(output.s3_uri) for output in job.outputs] == bridge.served_bytes(copying)


def test_a_duplicate_message_after_success_changes_nothing(
    bridge: Bridge, api: httpx.Client, tenant: Tenant
) -> None:
    job_id = bridge.submit(tenant, api)
    bridge.to_copying(job_id)
    done = bridge.finished(job_id)
    wait_for(lambda: bridge.copies_handled)
    handled = bridge.copies_handled
    s3_key = done.outputs[0].s3_uri.split("/", 3)[-1]
    stored_before = bridge.client("s3").head_object(Bucket=bridge.bucket, Key=s3_key)
    runway_gets = bridge.emulator.counters().get("GET /v1/tasks/{id}", 0)

    bridge.send_copy(job_id)
    wait_for(lambda: bridge.copies_handled > handled)

    again = bridge.jobs.get(job_id)
    assert again is not None
    assert again.version == done.version
    assert again.outputs == done.outputs
    assert len(bridge.jobs.outbox_events(job_id)) == 1
    stored_after = bridge.client("s3").head_object(Bucket=bridge.bucket, Key=s3_key)
    assert stored_after["LastModified"] == stored_before["LastModified"]
    assert bridge.emulator.counters().get("GET /v1/tasks/{id}", 0) == runway_gets  # Runway not asked


def test_a_url_that_expired_before_the_download_is_read_again_and_the_copy_succeeds(
    bridge: Bridge, api: httpx.Client, tenant: Tenant
) -> None:
    job_id = bridge.submit(tenant, api)
    copying = bridge.finished_at_runway(job_id)
    gets_before = bridge.proxy.output_gets
    # The copier's first download waits past the URL's lifetime: Runway (the emulator) answers 403.
    bridge.proxy.hold_next_output_s = URL_TTL_S / 20.0 + 0.5
    bridge.to_copying(job_id)

    job = bridge.finished(job_id)

    assert job.status is JobStatus.SUCCEEDED
    assert bridge.proxy.output_gets - gets_before == 2  # the expired one, then the fresh one
    [body] = bridge.served_bytes(copying)
    assert bridge.stored(job.outputs[0].s3_uri) == body
    assert job.outputs[0].sha256 == sha256(body)
    assert len(bridge.jobs.outbox_events(job_id)) == 1


def test_urls_that_stay_expired_fail_the_job_once_with_copy_failed(
    bridge: Bridge, api: httpx.Client, tenant: Tenant
) -> None:
    job_id = bridge.submit(tenant, api)
    bridge.finished_at_runway(job_id)
    bridge.proxy.refuse_outputs = True
    try:
        bridge.to_copying(job_id)
        job = bridge.finished(job_id)
    finally:
        bridge.proxy.refuse_outputs = False

    assert job.status is JobStatus.FAILED
    assert job.failure_code == BRIDGE_COPY_FAILED
    assert job.failure is not None
    assert "expired" in job.failure
    assert job.outputs == []
    [event] = bridge.jobs.outbox_events(job_id)
    assert event.type == "task.failed"
    assert event.payload["failureCode"] == BRIDGE_COPY_FAILED
    view = api.get(f"/v1/tasks/{job_id}", headers=tenant.bearer).json()
    assert view["status"] == "FAILED"
    assert view["failureCode"] == BRIDGE_COPY_FAILED
    assert bridge.open_uploads() == []
    assert bridge.dead_letters() == 0


def test_a_runway_5xx_storm_is_retried_on_later_deliveries_until_the_copy_succeeds(
    bridge: Bridge, api: httpx.Client, tenant: Tenant
) -> None:
    job_id = bridge.submit(tenant, api)
    copying = bridge.finished_at_runway(job_id)
    # More 503s than one delivery's Runway client retries: the first delivery gives up.
    bridge.emulator.update(fail_next=[503] * 6)
    try:
        bridge.to_copying(job_id, copying)
        job = bridge.finished(job_id, timeout_s=30)
    finally:
        bridge.emulator.update(fail_next=[])

    assert job.status is JobStatus.SUCCEEDED
    [body] = bridge.served_bytes(copying)
    assert bridge.stored(job.outputs[0].s3_uri) == body
    assert len(bridge.jobs.outbox_events(job_id)) == 1
    assert bridge.dead_letters() == 0
