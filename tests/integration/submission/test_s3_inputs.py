"""`s3://` inputs through the submit logic with the real adapters (moto's S3, the emulator):
with `input_delivery` "upload" each object goes through Runway's upload flow, and the create carries
a `runway://` URI the emulator accepts only once that upload completed."""

from __future__ import annotations

from runway_bridge.models.job import JobStatus
from tests.integration.conftest import Aws, Bridge, BridgeFactory

TENANT = "tenant-s3"


def _put_frame(bridge: Bridge) -> str:
    bridge.aws.s3.put_object(
        Bucket=bridge.aws.bucket,
        Key="inputs/frame.png",
        Body=b"\x89PNG" + b"\0" * 60,
        ContentType="image/png",
    )
    return f"s3://{bridge.aws.bucket}/inputs/frame.png"


def test_upload_delivery_gives_runway_a_completed_upload(make_bridge: BridgeFactory, aws: Aws) -> None:
    bridge = make_bridge(input_buckets=[aws.bucket], input_delivery="upload")
    body = {"model": "gen4_turbo", "promptImage": _put_frame(bridge), "promptText": "a pan"}
    result = bridge.submission.submit(TENANT, "image_to_video", body, "k")
    assert result.status is JobStatus.PENDING
    counters = bridge.emulator.counters()
    assert counters.get("POST /v1/uploads") == 1
    assert counters.get("tasks_created") == 1
    job = bridge.jobs.get(result.job_id)
    assert job is not None
    assert job.request_body is not None
    assert job.request_body["promptImage"].startswith("s3://")
