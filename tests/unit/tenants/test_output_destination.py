"""A tenant's output destination: what `s3://bucket/prefix/` may say, and that a job takes the
destination its tenant had when it was created (one tenant read per submit)."""

from __future__ import annotations

import re

import pytest

from runway_bridge.errors import InvalidRequestError
from runway_bridge.logic.ports import DestinationChecker
from runway_bridge.logic.tenants.keys import KeyService
from runway_bridge.models.copy import DestinationCheck
from runway_bridge.models.tenant import OutputDestination, TenantLimits, TenantProfile
from tests.unit.builders import TEXT_TO_VIDEO
from tests.unit.fakes import FakeTenantSecrets
from tests.unit.harness import TENANT, Harness

DESTINATION = OutputDestination(bucket="t-out", prefix="p/")


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


class ScriptedChecker:
    """The copier's answer to a destination check, per bucket (writable unless told otherwise)."""

    def __init__(self, answers: dict[str, DestinationCheck] | None = None) -> None:
        self.answers = answers or {}
        self.asked: list[OutputDestination] = []

    def check(self, destination: OutputDestination) -> DestinationCheck:
        self.asked.append(destination)
        return self.answers.get(destination.bucket, DestinationCheck(code="writable", message="wrote it"))


def key_service(h: Harness, checker: DestinationChecker | None) -> KeyService:
    return KeyService(
        keys=h.keys_store,
        tenants=h.keys_store,
        tenant_secrets=FakeTenantSecrets(),
        clock=h.clock,
        destinations=checker,
    )


def test_a_destination_the_copier_could_write_to_is_stored_with_the_limits(h: Harness) -> None:
    checker = ScriptedChecker()
    profile = key_service(h, checker).update_tenant(
        TENANT, limit_changes={"max_in_flight": 2}, output="s3://t-out/p/"
    )
    assert profile == TenantProfile(limits=TenantLimits(max_in_flight=2), output_destination=DESTINATION)
    assert checker.asked == [DESTINATION]
    assert h.keys_store.destinations[TENANT] == DESTINATION
    created = key_service(h, checker).create_key("ci", TENANT)
    assert created.output_destination == DESTINATION


def test_none_sends_the_outputs_back_to_the_bridges_bucket_without_a_check(h: Harness) -> None:
    h.keys_store.set_output_destination(TENANT, DESTINATION)
    checker = ScriptedChecker()
    assert key_service(h, checker).update_tenant(TENANT, output="none").output_destination is None
    assert checker.asked == []
    assert TENANT not in h.keys_store.destinations


@pytest.mark.parametrize(
    ("uri", "checker", "code", "says"),
    [
        (
            "s3://elsewhere/p/",
            ScriptedChecker(
                {
                    "elsewhere": DestinationCheck(
                        code="not_allowed", message="bucket elsewhere is not in OutputBuckets"
                    )
                }
            ),
            "output_destination_not_allowed",
            "not in OutputBuckets",
        ),
        (
            "s3://t-out/p/",
            ScriptedChecker({"t-out": DestinationCheck(code="not_writable", message="NoSuchBucket")}),
            "output_destination_not_writable",
            "NoSuchBucket",
        ),
        ("s3://t-out/p/", None, "output_destination_unchecked", "CopyOutputsFunctionName"),
        ("https://t-out/p/", ScriptedChecker(), "invalid_request", "s3://bucket/prefix/"),
    ],
)
def test_a_refused_destination_changes_nothing(
    h: Harness, uri: str, checker: ScriptedChecker | None, code: str, says: str
) -> None:
    h.keys_store.set_limits(TENANT, TenantLimits(max_in_flight=1))
    h.keys_store.set_output_destination(TENANT, OutputDestination(bucket="t-before"))
    with pytest.raises(InvalidRequestError, match=re.escape(says)) as refused:
        key_service(h, checker).update_tenant(TENANT, limit_changes={"max_in_flight": 5}, output=uri)
    assert refused.value.code == code
    assert h.keys_store.profile(TENANT) == TenantProfile(
        limits=TenantLimits(max_in_flight=1), output_destination=OutputDestination(bucket="t-before")
    )
