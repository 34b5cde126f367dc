"""A tenant's output destination: what `s3://bucket/prefix/` may say, and that a job takes the
destination its tenant had when it was created (one tenant read per submit)."""

from __future__ import annotations

import pytest

from runway_bridge.models.tenant import OutputDestination, TenantLimits
from tests.unit.builders import TEXT_TO_VIDEO
from tests.unit.harness import TENANT, Harness


@pytest.mark.parametrize(
    ("uri", "bucket", "prefix"),
    [
        ("s3://t-out/p/", "t-out", "p/"),
        ("s3://t-out/p", "t-out", "p/"),  # a prefix is a folder: the slash is added
        ("s3://t-out", "t-out", ""),
        ("s3://t-out/", "t-out", ""),
        ("s3://my.bucket-1/a/b_c/", "my.bucket-1", "a/b_c/"),
    ],
)
def test_an_s3_uri_names_a_bucket_and_a_folder_prefix(uri: str, bucket: str, prefix: str) -> None:
    destination = OutputDestination.parse(uri)
    assert (destination.bucket, destination.prefix) == (bucket, prefix)
    assert destination.uri == f"s3://{bucket}/{prefix}"


@pytest.mark.parametrize(
    "uri",
    [
        "https://t-out.s3.amazonaws.com/p/",
        "s3://",
        "s3://T-Out/p/",
        "s3://ab/p/",
        "s3://t-out//p/",
        "s3://t-out/../p/",
        "s3://t-out/p q/",
        "s3://t-out/p/?x=1",
        "s3://t-out/" + "p" * 600 + "/",
    ],
)
def test_anything_else_is_refused(uri: str) -> None:
    with pytest.raises(ValueError, match=r"s3://|bucket|prefix"):
        OutputDestination.parse(uri)


def test_a_job_keeps_the_destination_its_tenant_had_at_create(h: Harness) -> None:
    h.keys_store.set_limits(TENANT, TenantLimits(max_jobs_per_day=10))
    h.keys_store.set_output_destination(TENANT, OutputDestination.parse("s3://t-out/p/"))
    reads = h.keys_store.profile_reads
    first = h.submission.submit(TENANT, "text_to_video", TEXT_TO_VIDEO)
    assert h.keys_store.profile_reads == reads + 1  # limits and destination in one read

    h.keys_store.set_output_destination(TENANT, OutputDestination.parse("s3://t-other/q/"))
    second = h.submission.submit(TENANT, "text_to_video", TEXT_TO_VIDEO)
    h.keys_store.set_output_destination(TENANT, None)
    third = h.submission.submit(TENANT, "text_to_video", TEXT_TO_VIDEO)

    destinations = [h.jobs.get(result.job_id).output_destination for result in (first, second, third)]  # type: ignore[union-attr]
    assert destinations == [
        OutputDestination(bucket="t-out", prefix="p/"),
        OutputDestination(bucket="t-other", prefix="q/"),
        None,
    ]
