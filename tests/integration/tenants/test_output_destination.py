"""A tenant's output destination on moto: kept on the tenant item beside its limits (setting one
never drops the other), and snapshotted on the tenant's jobs as DynamoDB stores them."""

from __future__ import annotations

from runway_bridge.models.tenant import OutputDestination, TenantLimits, TenantProfile
from tests.integration.conftest import TEXT_TO_VIDEO, Bridge


def test_destination_and_limits_are_kept_side_by_side(bridge: Bridge) -> None:
    destination = OutputDestination.parse("s3://t-out/p/")
    assert bridge.keys_store.profile("acme") == TenantProfile()

    bridge.keys_store.set_output_destination("acme", destination)
    bridge.keys.update_limits("acme", {"max_in_flight": 3})
    assert bridge.keys_store.profile("acme") == TenantProfile(
        limits=TenantLimits(max_in_flight=3), output_destination=destination
    )

    bridge.keys_store.set_output_destination("acme", None)
    assert bridge.keys_store.profile("acme") == TenantProfile(limits=TenantLimits(max_in_flight=3))
    assert bridge.keys_store.profile("other") == TenantProfile()


def test_a_job_stores_its_tenants_destination_and_reads_it_back(bridge: Bridge) -> None:
    bridge.keys_store.set_output_destination("acme", OutputDestination.parse("s3://t-out/p/"))
    result = bridge.submission.submit("acme", "text_to_video", TEXT_TO_VIDEO)
    bridge.keys_store.set_output_destination("acme", OutputDestination.parse("s3://t-out/later/"))

    job = bridge.jobs.get(result.job_id)
    assert job is not None
    assert job.output_destination == OutputDestination(bucket="t-out", prefix="p/")
    [item] = [item for item in bridge.aws.scan(bridge.aws.jobs_table) if item["sk"]["S"] == "JOB"]
    assert item["outputDestination"] == {"M": {"bucket": {"S": "t-out"}, "prefix": {"S": "p/"}}}
