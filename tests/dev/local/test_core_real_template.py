"""The real `template.yaml` comes up in `LocalAws`: every resource it declares is either created in
moto with its settings or knowingly left to the glue / skipped, and its functions are registered."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from runway_bridge_dev.local.aws import LocalAws

REAL_TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAws]:
    with LocalAws(REAL_TEMPLATE) as running:
        yield running


def test_every_resource_is_created_or_knowingly_not(aws: LocalAws) -> None:
    # A resource whose Condition is false is not created (as in CloudFormation).
    declared = {
        logical_id
        for logical_id, resource in aws.template["Resources"].items()
        if "Condition" not in resource or aws.resolve({"Condition": resource["Condition"]})
    }
    assert set(aws.resources) == declared
    for logical_id, resource in aws.template["Resources"].items():
        if resource["Type"] == "AWS::DynamoDB::Table":
            described = aws.boto3_client("dynamodb").describe_table(TableName=aws.physical_id(logical_id))
            indexes = resource["Properties"].get("GlobalSecondaryIndexes", [])
            assert len(described["Table"].get("GlobalSecondaryIndexes", [])) == len(indexes)
        elif resource["Type"] == "AWS::Lambda::Function":
            assert aws.runner.find(logical_id) is not None
        elif resource["Type"] in {"AWS::IAM::Role", "AWS::Lambda::Permission"}:
            assert logical_id in aws.skipped


def test_the_artifacts_bucket_accepts_writes_despite_its_tls_only_policy(aws: LocalAws) -> None:
    s3 = aws.boto3_client("s3")
    bucket = os.environ["BRIDGE_BUCKET_NAME"]
    assert bucket == aws.physical_id("ArtifactsBucket")
    s3.put_object(Bucket=bucket, Key="requests/x.json", Body=b"{}")
    assert s3.get_object(Bucket=bucket, Key="requests/x.json")["Body"].read() == b"{}"


def test_the_functions_environment_names_the_created_resources(aws: LocalAws) -> None:
    assert os.environ["BRIDGE_JOBS_TABLE_NAME"] == aws.physical_id("JobsTable")
    assert os.environ["BRIDGE_API_KEYS_TABLE_NAME"] == aws.physical_id("ApiKeysTable")
    assert os.environ["BRIDGE_EVENT_BUS_NAME"] == aws.physical_id("EventBus")
    assert json.loads(os.environ["BRIDGE_CREDIT_PRICES"]) == {}


def test_bus_submits_match_the_submit_source_and_failed_invocations_are_kept_and_alarmed(
    aws: LocalAws,
) -> None:
    resources = aws.template["Resources"]
    source = aws.template["Mappings"]["EventSources"]["Submit"]["Source"]
    [rule] = [
        logical_id
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::Events::Rule" and logical_id.startswith("SubmitEventFunction")
    ]
    pattern = resources[rule]["Properties"]["EventPattern"]
    assert aws.resolve(pattern["source"]) == [source]
    assert pattern["detail-type"] == ["Generation Requested"]

    [invoke_config] = [
        resource["Properties"]
        for resource in resources.values()
        if resource["Type"] == "AWS::Lambda::EventInvokeConfig"
        and resource["Properties"]["FunctionName"] == {"Ref": "SubmitEventFunction"}
    ]
    assert invoke_config["MaximumRetryAttempts"] == 2
    on_failure = invoke_config["DestinationConfig"]["OnFailure"]["Destination"]
    assert on_failure == {"Fn::GetAtt": ["SubmitEventFailureQueue", "Arn"]}
    alarmed = [
        resource["Properties"]
        for resource in resources.values()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
        and {"Name": "QueueName", "Value": {"Fn::GetAtt": ["SubmitEventFailureQueue", "QueueName"]}}
        in resource["Properties"]["Dimensions"]
    ]
    assert [alarm["AlarmActions"] for alarm in alarmed] == [[{"Ref": "AlarmsTopic"}]]


def test_the_bus_policy_lets_only_the_stacks_account_put_submit_events_by_default(aws: LocalAws) -> None:
    [policy_id] = [
        logical_id
        for logical_id, resource in aws.template["Resources"].items()
        if resource["Type"] == "AWS::Events::EventBusPolicy"
    ]
    statement = aws.resolve(aws.template["Resources"][policy_id]["Properties"]["Statement"])
    assert statement["Principal"] == {"AWS": [aws.account_id]}
    assert statement["Action"] == "events:PutEvents"
    assert statement["Condition"] == {"StringEquals": {"events:source": ["runway-bridge.requests"]}}
    assert policy_id in aws.skipped  # not enforced locally, knowingly
