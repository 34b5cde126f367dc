"""The core fixture template brought up by `LocalAws`: resources really exist in moto with the
template's settings, functions run in-process when moto invokes them (Lambda API, Step Functions
tasks, EventBridge rules), and the process environment is the functions' environment."""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runway_bridge_dev.local.aws import EnvironmentConflict, LocalAws
from tests.dev.local.conftest import CORE_TEMPLATE, wait_for

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAws]:
    with LocalAws(CORE_TEMPLATE) as running:
        yield running


def record(aws: LocalAws, key: str) -> dict[str, Any] | None:
    item = (
        aws.boto3_client("dynamodb")
        .get_item(TableName=aws.physical_id("RecordsTable"), Key={"pk": {"S": key}}, ConsistentRead=True)
        .get("Item")
    )
    return {"event": json.loads(item["event"]["S"]), "function": item["function"]["S"]} if item else None


def finished_execution(aws: LocalAws, execution_arn: str) -> dict[str, Any]:
    sfn = aws.boto3_client("stepfunctions")

    def probe() -> dict[str, Any] | None:
        described = sfn.describe_execution(executionArn=execution_arn)
        return None if described["status"] == "RUNNING" else described

    return wait_for(probe)


def put_event(aws: LocalAws, detail_type: str, detail: dict[str, Any], source: str = "core.tests") -> str:
    response = aws.boto3_client("events").put_events(
        Entries=[
            {
                "EventBusName": aws.physical_id("Bus"),
                "Source": source,
                "DetailType": detail_type,
                "Detail": json.dumps(detail),
            }
        ]
    )
    assert response["FailedEntryCount"] == 0, response
    return str(response["Entries"][0]["EventId"])


# --- resources ------------------------------------------------------------------------------------


def test_table_has_its_key_schema_gsi_and_ttl(aws: LocalAws) -> None:
    dynamodb = aws.boto3_client("dynamodb")
    table = dynamodb.describe_table(TableName=aws.physical_id("RecordsTable"))["Table"]
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    (index,) = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "by-function"
    assert index["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    assert table["TableArn"] == aws.resolve({"Fn::GetAtt": ["RecordsTable", "Arn"]})
    ttl = dynamodb.describe_time_to_live(TableName=aws.physical_id("RecordsTable"))["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expiresAt")


def test_queue_has_its_visibility_timeout_and_redrive_policy(aws: LocalAws) -> None:
    attributes = aws.boto3_client("sqs").get_queue_attributes(
        QueueUrl=aws.physical_id("EventsQueue"), AttributeNames=["All"]
    )["Attributes"]
    assert attributes["VisibilityTimeout"] == "7"
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": aws.resolve({"Fn::GetAtt": ["EventsDeadLetterQueue", "Arn"]}),
        "maxReceiveCount": 3,
    }


def test_topic_subscription_filters_and_delivers_raw_messages(aws: LocalAws) -> None:
    sns, sqs = aws.boto3_client("sns"), aws.boto3_client("sqs")
    topic = aws.physical_id("Notifications")
    for kind in ("boring", "important"):
        sns.publish(
            TopicArn=topic,
            Message=f"a {kind} notice",
            MessageAttributes={"kind": {"DataType": "String", "StringValue": kind}},
        )
    received = wait_for(
        lambda: sqs.receive_message(QueueUrl=aws.physical_id("EventsQueue"), WaitTimeSeconds=1).get(
            "Messages"
        )
    )
    assert [m["Body"] for m in received] == ["a important notice"]  # raw: no SNS envelope
    sqs.delete_message(QueueUrl=aws.physical_id("EventsQueue"), ReceiptHandle=received[0]["ReceiptHandle"])
    time.sleep(0.3)
    rest = sqs.receive_message(QueueUrl=aws.physical_id("EventsQueue"), WaitTimeSeconds=1).get("Messages", [])
    assert rest == []  # the boring one was filtered out


def test_topic_notifies_a_subscribed_function_with_the_sns_event(aws: LocalAws) -> None:
    sns = aws.boto3_client("sns")
    topic = aws.physical_id("Notifications")
    skipped = sns.publish(
        TopicArn=topic,
        Message="x",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "boring"}},
    )["MessageId"]
    message_id = sns.publish(
        TopicArn=topic,
        Message="disk full",
        Subject="alert",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "important"}},
    )["MessageId"]
    recorded = wait_for(lambda: record(aws, message_id))
    notification = recorded["event"]["notification"]
    assert recorded["function"] == aws.physical_id("SnsRecorder")
    assert (notification["TopicArn"], notification["Message"], notification["Subject"]) == (
        topic,
        "disk full",
        "alert",
    )
    assert notification["MessageAttributes"] == {"kind": {"Type": "String", "Value": "important"}}
    assert record(aws, skipped) is None  # filtered out by the subscription's policy


def test_secret_is_generated_from_its_template(aws: LocalAws) -> None:
    secret = aws.boto3_client("secretsmanager").get_secret_value(SecretId=f"{aws.stack_name}/api")
    value = json.loads(secret["SecretString"])
    assert value["user"] == "bridge"
    assert len(value["password"]) == 24
    assert not set('"@/\\') & set(value["password"])


def test_bucket_policy_is_enforced_except_conditional_statements_moto_cannot_evaluate(aws: LocalAws) -> None:
    s3 = aws.boto3_client("s3")
    bucket = aws.physical_id("UploadsBucket")
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    # The TLS-only Deny would deny everything on moto's plain-HTTP endpoint: it is left out.
    assert [statement["Sid"] for statement in policy["Statement"]] == ["KeepProtectedFiles"]
    for key in ("a.txt", "protected/b.txt"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"hi")
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"hi"
    s3.delete_object(Bucket=bucket, Key="a.txt")
    with pytest.raises(s3.exceptions.ClientError, match=r"Forbidden|AccessDenied"):
        s3.delete_object(Bucket=bucket, Key="protected/b.txt")


def test_conditional_resources_exist_only_when_their_condition_holds(aws: LocalAws) -> None:
    assert "ProdOnlyQueue" not in aws.resources
    assert "ProdQueue" not in aws.outputs
    url = aws.physical_id("HelloQueue")
    assert url.endswith(f"/{aws.stack_name}-hello")
    assert (
        aws.boto3_client("sqs").get_queue_attributes(QueueUrl=url)["ResponseMetadata"]["HTTPStatusCode"]
        == 200
    )


def test_function_environment_is_resolved_into_the_process(aws: LocalAws) -> None:
    assert os.environ["CORE_GREETING"] == "hello, second from us-east-1"
    assert os.environ["CORE_STAGE_LABEL"] == "not-prod-test"
    assert os.environ["AWS_ENDPOINT_URL"] == aws.endpoint_url
    described = aws.runner.invoke("DescribeFunction", {})
    assert described["greeting"] == "hello, second from us-east-1"
    assert described["memory_limit_in_mb"] == 256
    assert described["invoked_function_arn"] == aws.resolve({"Fn::GetAtt": ["DescribeFunction", "Arn"]})
    assert aws.outputs["Greeting"] == "hello, second from us-east-1"


# --- Lambda through moto ---------------------------------------------------------------------------


def test_lambda_invoke_api_runs_the_handler_in_process(aws: LocalAws) -> None:
    client = aws.boto3_client("lambda")
    answer = client.invoke(FunctionName=f"{aws.stack_name}-double", Payload=json.dumps({"n": 5}))
    assert answer["StatusCode"] == 200
    assert "FunctionError" not in answer
    assert json.loads(answer["Payload"].read()) == {"id": None, "n": 5, "doubled": 10}


def test_lambda_invoke_api_reports_a_handler_error_like_lambda(aws: LocalAws) -> None:
    answer = aws.boto3_client("lambda").invoke(
        FunctionName=aws.resolve({"Fn::GetAtt": ["DoubleFunction", "Arn"]}), Payload=json.dumps({"n": -1})
    )
    assert answer["FunctionError"] == "Unhandled"
    error = json.loads(answer["Payload"].read())
    assert (error["errorType"], error["errorMessage"]) == ("NegativeNumberError", "cannot double -1")


def test_asynchronous_invoke_returns_202_and_runs_in_the_background(aws: LocalAws) -> None:
    key = f"async-{uuid.uuid4()}"
    answer = aws.boto3_client("lambda").invoke(
        FunctionName=aws.physical_id("RecorderFunction"),
        InvocationType="Event",
        Payload=json.dumps({"id": key}),
    )
    assert answer["StatusCode"] == 202
    assert wait_for(lambda: record(aws, key))["event"] == {"id": key}


# --- Step Functions --------------------------------------------------------------------------------


def test_state_machine_runs_its_asl_with_in_process_lambda_tasks(aws: LocalAws) -> None:
    key = f"run-{uuid.uuid4()}"
    # No name given: the execution gets one, as on AWS.
    started = aws.boto3_client("stepfunctions").start_execution(
        stateMachineArn=aws.physical_id("Pipeline"), input=json.dumps({"id": key, "n": 4})
    )
    assert UUID.match(started["executionArn"].rsplit(":", 1)[1])
    finished = finished_execution(aws, started["executionArn"])
    assert finished["status"] == "SUCCEEDED", finished
    assert json.loads(finished["output"]) == {"id": key, "n": 4, "doubled": 8, "record": {"recorded": key}}
    # The plain-ARN task got the substituted parameters (DefinitionSubstitutions resolved).
    assert record(aws, key) == {
        "event": {"id": key, "doubled": 8, "label": "test-pipeline"},
        "function": aws.physical_id("RecorderFunction"),
    }


def test_a_failing_lambda_task_fails_the_execution_with_the_error_type(aws: LocalAws) -> None:
    started = aws.boto3_client("stepfunctions").start_execution(
        stateMachineArn=aws.physical_id("Pipeline"), name="negative", input=json.dumps({"id": "neg", "n": -2})
    )
    finished = finished_execution(aws, started["executionArn"])
    assert finished["status"] == "FAILED"
    assert finished["error"] == "NegativeNumberError"
    assert record(aws, "neg") is None


# --- EventBridge rules -----------------------------------------------------------------------------


def test_rule_routes_an_event_to_the_state_machine_through_its_input_transformer(aws: LocalAws) -> None:
    order = uuid.uuid4().hex[:8]
    put_event(aws, "Order Placed", {"orderId": order, "quantity": 3, "id": f"detail-{order}"})
    # The state machine ran with {"id": "order-<order>", "n": 3} and recorded its result ...
    assert wait_for(lambda: record(aws, f"order-{order}"))["event"] == {
        "id": f"order-{order}",
        "doubled": 6,
        "label": "test-pipeline",
    }
    # ... and the second target (InputPath $.detail) got only the detail.
    assert wait_for(lambda: record(aws, f"detail-{order}"))["event"] == {
        "orderId": order,
        "quantity": 3,
        "id": f"detail-{order}",
    }


def test_rule_sends_its_constant_input_to_a_queue(aws: LocalAws) -> None:
    put_event(aws, "Audit", {"anything": "here"})
    sqs = aws.boto3_client("sqs")
    messages = wait_for(
        lambda: sqs.receive_message(QueueUrl=aws.physical_id("AuditQueue"), WaitTimeSeconds=1).get("Messages")
    )
    assert [json.loads(m["Body"]) for m in messages] == [{"audited": True}]


def test_sam_eventbridge_rule_gives_the_function_the_whole_event_and_ignores_others(aws: LocalAws) -> None:
    ignored = put_event(aws, "Whole", {"n": 1}, source="someone.else")
    event_id = put_event(aws, "Whole", {"n": 2})
    delivered = wait_for(lambda: record(aws, event_id))
    event = delivered["event"]
    assert delivered["function"] == aws.physical_id("WholeEventRecorder")
    assert (event["source"], event["detail-type"], event["detail"]) == ("core.tests", "Whole", {"n": 2})
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", event["time"])
    assert record(aws, ignored) is None


def test_an_undeliverable_event_lands_in_the_targets_dead_letter_queue(aws: LocalAws) -> None:
    put_event(aws, "Lost", {"order": "gone"})
    sqs = aws.boto3_client("sqs")
    messages = wait_for(
        lambda: sqs.receive_message(
            QueueUrl=aws.physical_id("RuleDeadLetterQueue"), WaitTimeSeconds=1, MessageAttributeNames=["All"]
        ).get("Messages")
    )
    (message,) = messages
    assert json.loads(message["Body"])["detail"] == {"order": "gone"}
    attributes = {name: value["StringValue"] for name, value in message["MessageAttributes"].items()}
    assert attributes["RULE_ARN"] == aws.resolve({"Fn::GetAtt": ["LostRule", "Arn"]})
    assert attributes["TARGET_ARN"].endswith(f":stateMachine:{aws.stack_name}-missing")
    assert (
        "does not exist" in attributes["ERROR_MESSAGE"]
        or "StateMachineDoesNotExist" in attributes["ERROR_CODE"]
    )


# --- environment ownership --------------------------------------------------------------------------


def test_functions_disagreeing_on_a_variable_are_refused(local_aws: Any, tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return event\n")
    (tmp_path / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\n"
        "Resources:\n"
        "  One:\n    Type: AWS::Serverless::Function\n    Properties:\n"
        "      {CodeUri: ., Handler: app.handler, Runtime: python3.13,\n"
        "       Environment: {Variables: {MODE: one}}}\n"
        "  Two:\n    Type: AWS::Serverless::Function\n    Properties:\n"
        "      {CodeUri: ., Handler: app.handler, Runtime: python3.13,\n"
        "       Environment: {Variables: {MODE: two}}}\n"
    )
    with pytest.raises(EnvironmentConflict, match="MODE"):
        local_aws(tmp_path / "template.yaml")
    assert "MODE" not in os.environ
