"""A copier invocation that dies mid-upload (its download hangs past the function timeout, as a
killed Lambda leaves things): the message comes back, the half upload is aborted, the copy is redone
and the job ends SUCCEEDED once. The hung invocation waking up later changes nothing."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from runway_bridge.logic.copy.streaming import MIB
from runway_bridge.models.job import BRIDGE_COPY_FAILED, JobStatus
from tests.e2e.api.conftest import Tenant
from tests.integration.copy.job.conftest import Bridge, sha256, start_bridge, wait_for

DELIVERIES = 2


@pytest.fixture(scope="module")
def bridge() -> Iterator[Bridge]:
    yield from start_bridge(
        # A short function timeout and visibility: the hung invocation times out and its message
        # is delivered again within seconds. Long enough that a delivery which does not hang (three
        # refused GETs and their back-off, the job's writes) finishes on a loaded machine: at 3 s
        # one was cut short there and dead-lettered.
        parameters={
            "CopyFunctionTimeout": "10",
            "CopyQueueVisibilityTimeout": "12",
            "CopyMaxReceiveCount": str(DELIVERIES),
        },
        environment={"BRIDGE_COPY_PART_BYTES": str(5 * MIB), "BRIDGE_COPY_RETRY_BASE_S": "0.5"},
        output_padding_bytes=12 * MIB,
    )


@pytest.mark.slow
def test_a_copier_that_dies_mid_upload_is_redone_without_an_orphan_upload(
    bridge: Bridge, api: httpx.Client, tenant: Tenant
) -> None:
    job_id = bridge.submit(tenant, api)
    finished = bridge.finished_at_runway(job_id)
    bridge.proxy.stall_next_output_after = 6 * MIB  # one 5 MiB part goes up, then the body hangs
    bridge.to_copying(job_id, finished)

    wait_for(bridge.proxy.stalled.is_set)
    # The hung copy's upload is the oldest; on a slow machine the redelivered copy may have begun
    # its own by now.
    half = min(wait_for(bridge.open_uploads), key=lambda upload: upload["Initiated"])
    s3 = bridge.client("s3")
    parts = wait_for(
        lambda: s3.list_parts(Bucket=bridge.bucket, Key=half["Key"], UploadId=half["UploadId"]).get("Parts")
    )
    assert len(parts) == 1

    job = bridge.finished(job_id, timeout_s=90)

    assert job.status is JobStatus.SUCCEEDED
    [body] = bridge.served_bytes(finished)
    assert len(body) > 12 * MIB
    assert bridge.stored(job.outputs[0].s3_uri) == body
    assert job.outputs[0].sha256 == sha256(body)
    assert bridge.open_uploads() == []
    assert len(bridge.jobs.outbox_events(job_id)) == 1

    # The hung invocation wakes: its body ends short, its retries meet expired URLs; it must not
    # touch the finished job or leave an upload behind.
    gets = bridge.proxy.output_gets
    bridge.proxy.refuse_outputs = True
    try:
        bridge.proxy.release()
        wait_for(lambda: bridge.proxy.output_gets >= gets + 3, timeout_s=30)
        wait_for(lambda: not bridge.open_uploads(), timeout_s=10)
    finally:
        bridge.proxy.refuse_outputs = False
    after = bridge.jobs.get(job_id)
    assert after is not None
    assert after.status is JobStatus.SUCCEEDED
    assert after.version == job.version
    assert len(bridge.jobs.outbox_events(job_id)) == 1
    assert bridge.stored(job.outputs[0].s3_uri) == body


def test_a_copy_failing_on_every_delivery_fails_the_job_on_the_last_one_instead_of_dead_lettering(
    bridge: Bridge, api: httpx.Client, tenant: Tenant
) -> None:
    job_id = bridge.submit(tenant, api)
    finished = bridge.finished_at_runway(job_id)
    gets = bridge.proxy.output_gets
    bridge.proxy.output_status = 503
    try:
        bridge.to_copying(job_id, finished)
        job = bridge.finished(job_id, timeout_s=90)
    finally:
        bridge.proxy.output_status = None

    assert job.status is JobStatus.FAILED
    assert job.failure_code == BRIDGE_COPY_FAILED
    assert job.failure is not None
    assert "repeated attempts" in job.failure
    # Every delivery tried the URL as often as the copy policy allows (3 attempts each).
    assert bridge.proxy.output_gets - gets == DELIVERIES * 3
    [event] = bridge.jobs.outbox_events(job_id)
    assert event.type == "task.failed"
    assert bridge.dead_letters() == 0
    assert bridge.open_uploads() == []


def test_an_unreadable_message_ends_in_the_dead_letter_queue_quickly(bridge: Bridge) -> None:
    before = bridge.dead_letters()
    bridge.client("sqs").send_message(QueueUrl=bridge.physical("CopyQueue"), MessageBody="not a copy request")

    # Back at once after each failed delivery (not after the visibility timeout), then dead-lettered.
    # (left to the 4 s visibility timeout it would take 8 s)
    wait_for(lambda: bridge.dead_letters() > before, timeout_s=3.5)
