"""Outputs copied into a tenant's own bucket on moto: under its prefix, with the same part
checksums and tags, with no encryption named by the bridge (the bucket's default applies); and the
key setup's write check against a writable bucket and a missing one."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import httpx
import pytest

from runway_bridge.adapters.copy.outputs import S3MultipartStore
from runway_bridge.errors import ObjectStoreError
from runway_bridge.logic.copy.streaming import WRITE_CHECK_KEY, CopyPolicy, check_writable
from tests.integration.copy.streaming.conftest import (
    CountingSource,
    copy_fresh_outputs,
    open_uploads,
    succeeded_task,
)


def _calls(s3: Any, operation: str) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    s3.meta.events.register(
        f"provide-client-params.s3.{operation}", lambda params, **_: seen.append(dict(params))
    )
    return seen


def test_a_tenant_bucket_gets_the_copy_under_its_prefix_with_its_own_default_encryption(
    runway: httpx.Client, source: CountingSource, s3: Any
) -> None:
    bucket = f"tenant-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": "tenant-key",
                    }
                }
            ]
        },
    )
    starts = _calls(s3, "CreateMultipartUpload")
    parts = _calls(s3, "UploadPart")
    task = succeeded_task(runway)
    served = httpx.get(task["output"][0]).content

    [output] = copy_fresh_outputs(
        task,
        job_id="job-1",
        source=source,
        store=S3MultipartStore.for_tenant_bucket(s3, bucket),
        policy=CopyPolicy(sleep=lambda _seconds: None),
        key_prefix="p/q/",
    )

    key = "p/q/outputs/job-1/0.mp4"
    assert output.s3_uri == f"s3://{bucket}/{key}"
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == served
    assert output.sha256 == hashlib.sha256(served).hexdigest()
    tags = {tag["Key"]: tag["Value"] for tag in s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]}
    assert tags == {"sha256": output.sha256, "size": str(len(served))}
    [start] = starts
    assert not {"ServerSideEncryption", "SSEKMSKeyId"} & set(start)  # the bucket's default decides
    assert all(part["ChecksumSHA256"] for part in parts)
    assert open_uploads(s3, bucket) == []


def test_the_write_check_passes_on_a_bucket_the_copier_can_write(s3: Any) -> None:
    bucket = f"tenant-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    written = check_writable(S3MultipartStore.for_tenant_bucket(s3, bucket), "p/")
    assert written == f"s3://{bucket}/p/{WRITE_CHECK_KEY}"
    assert s3.head_object(Bucket=bucket, Key=f"p/{WRITE_CHECK_KEY}")["ContentLength"] > 0
    assert open_uploads(s3, bucket) == []


def test_the_write_check_names_what_s3_refused_for_a_missing_bucket(s3: Any) -> None:
    with pytest.raises(ObjectStoreError, match="NoSuchBucket"):
        check_writable(S3MultipartStore.for_tenant_bucket(s3, f"missing-{uuid.uuid4().hex[:12]}"), "p/")


def test_the_write_check_refuses_a_bucket_in_another_region_and_writes_nothing(s3: Any) -> None:
    bucket = f"tenant-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    with pytest.raises(ObjectStoreError, match="is in eu-west-1 and the bridge in us-east-1"):
        check_writable(S3MultipartStore.for_tenant_bucket(s3, bucket), "p/")
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
