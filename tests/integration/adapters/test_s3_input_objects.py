"""adapters/object_store.py `S3InputObjects` on moto: what HeadObject says of an `s3://` input
(size, Content-Type), a missing object or bucket as its own error, S3 refusing the bridge's role
as another, and a presigned GET that serves the object's bytes."""

from __future__ import annotations

import uuid

import httpx
import pytest
from botocore.stub import Stubber

from runway_bridge.adapters.object_store import S3InputObjects
from runway_bridge.errors import InputObjectForbiddenError, InputObjectMissingError, StoreUnavailableError
from runway_bridge.models.records import InputObject
from tests.integration.conftest import Aws


def test_head_reports_size_and_type_and_the_presign_serves_the_bytes(aws: Aws) -> None:
    body = b"\x89PNG" * 10
    aws.s3.put_object(Bucket=aws.bucket, Key="in/frame one.png", Body=body, ContentType="image/png")
    objects = S3InputObjects(aws.s3)
    assert objects.head(aws.bucket, "in/frame one.png") == InputObject(size=40, content_type="image/png")
    url = objects.presign_get(aws.bucket, "in/frame one.png", expires_in_s=600)
    answer = httpx.get(url, timeout=10)
    assert (answer.status_code, answer.content) == (200, b"\x89PNG" * 10)


def test_a_missing_key_or_bucket_is_missing(aws: Aws) -> None:
    objects = S3InputObjects(aws.s3)
    with pytest.raises(InputObjectMissingError):
        objects.head(aws.bucket, "no/such.png")
    with pytest.raises(InputObjectMissingError):
        objects.head(f"no-bucket-{uuid.uuid4().hex[:8]}", "a.png")


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (403, "403", InputObjectForbiddenError),  # HeadObject has no body: the code is the status
        (301, "PermanentRedirect", InputObjectForbiddenError),  # a bucket in another region
        (400, "AuthorizationHeaderMalformed", InputObjectForbiddenError),
        (503, "SlowDown", StoreUnavailableError),
    ],
)
def test_s3_refusing_the_role_is_forbidden_and_a_failure_is_unavailable(
    aws: Aws, status: int, code: str, expected: type[Exception]
) -> None:
    objects = S3InputObjects(aws.s3)
    with Stubber(aws.s3) as stub:
        stub.add_client_error("head_object", service_error_code=code, http_status_code=status)
        with pytest.raises(expected):
            objects.head(aws.bucket, "a.png")


def test_read_answers_the_bytes_up_to_a_cap(aws: Aws) -> None:
    aws.s3.put_object(Bucket=aws.bucket, Key="in/a.mp3", Body=b"ID3" + b"\0" * 97, ContentType="audio/mpeg")
    objects = S3InputObjects(aws.s3)
    content, found = objects.read(aws.bucket, "in/a.mp3", max_bytes=100)
    assert (content[:3], found) == (b"ID3", InputObject(size=100, content_type="audio/mpeg"))
    with pytest.raises(StoreUnavailableError, match="over 99"):
        objects.read(aws.bucket, "in/a.mp3", max_bytes=99)
    with pytest.raises(InputObjectMissingError):
        objects.read(aws.bucket, "in/none.mp3", max_bytes=100)
