"""A tenant's output destination on moto: kept on the tenant item beside its limits (setting one
never drops the other), and snapshotted on the tenant's jobs as DynamoDB stores them; and the key
setup's question to the copier function, as Lambda's Invoke answers it."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from runway_bridge.adapters.tenants.destination_check import LambdaDestinationChecker
from runway_bridge.errors import StoreUnavailableError
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


class StubLambda:
    """What Lambda's Invoke answers (the local runtime's real invoke is exercised end to end)."""

    def __init__(self, payload: bytes, *, function_error: bool = False) -> None:
        self.payload = payload
        self.function_error = function_error
        self.requests: list[dict[str, Any]] = []

    def invoke(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        answer: dict[str, Any] = {"StatusCode": 200, "Payload": io.BytesIO(self.payload)}
        if self.function_error:
            answer["FunctionError"] = "Unhandled"
        return answer


def test_the_checker_asks_the_copier_synchronously_and_reads_its_answer() -> None:
    stub = StubLambda(b'{"code": "not_allowed", "message": "bucket t-out is not in OutputBuckets"}')
    check = LambdaDestinationChecker(stub, "copier").check(OutputDestination.parse("s3://t-out/p/"))
    assert (check.code, check.writable) == ("not_allowed", False)
    [request] = stub.requests
    assert (request["FunctionName"], request["InvocationType"]) == ("copier", "RequestResponse")
    assert json.loads(request["Payload"]) == {"checkDestination": {"bucket": "t-out", "prefix": "p/"}}


@pytest.mark.parametrize(
    ("stub", "says"),
    [
        (
            StubLambda(b'{"errorType": "ValidationError", "errorMessage": "bad"}', function_error=True),
            "ValidationError",
        ),
        (StubLambda(b'{"batchItemFailures": []}'), "this version of the bridge"),
    ],
)
def test_a_copier_that_fails_or_answers_something_else_is_not_a_yes(stub: StubLambda, says: str) -> None:
    with pytest.raises(StoreUnavailableError, match=says):
        LambdaDestinationChecker(stub, "copier").check(OutputDestination.parse("s3://t-out/p/"))
