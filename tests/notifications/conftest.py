"""Notifications through the whole local stack: template.yaml on moto, the jobs table's stream read
by the local stream poller, the relay and deliverer in-process, a trustme HTTPS receiver reached
through a host override (the pinned-address TLS path), SQS queues subscribed to the topic and a bus rule."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import httpx
import pytest

from runway_bridge_dev.local.stack import LocalStack
from tests.poller.conftest import start_poller_stack
from tests.webhooks.receiver import WebhookReceiver

RECEIVER_HOST: Final = "hooks.receiver.test"
# Compressed schedule: 0, 0.05, 3, 18, ... seconds.
FAST_RETRIES: Final = {"WebhookRetryScale": "0.01"}


@dataclass(frozen=True)
class KeyedTenant:
    tenant_id: str
    key: str
    webhook_secret: str

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def new_keyed_tenant(prefix: str = "n") -> KeyedTenant:
    from runway_bridge_dev.keys_cli import create_key  # noqa: PLC0415  (needs the stack's environment)

    tenant_id = f"{prefix}-{uuid.uuid4().hex[:10]}"
    created = create_key(tenant_id, "tests")
    assert created.webhook_secret
    return KeyedTenant(tenant_id, created.api_key, created.webhook_secret)


@dataclass
class Sinks:
    """SQS queues standing in for AWS-native consumers."""

    stack: LocalStack
    sns_all: str
    sns_failed_only: str
    bus: str

    def messages(self, queue_url: str, *, wait_s: int = 1) -> list[dict[str, Any]]:
        sqs = self.stack.aws.boto3_client("sqs")
        found: list[dict[str, Any]] = []
        while True:
            answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_s)
            batch = answer.get("Messages", [])
            if not batch:
                return found
            for message in batch:
                found.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def subscribe_sinks(stack: LocalStack) -> Sinks:
    sqs = stack.aws.boto3_client("sqs")
    sns = stack.aws.boto3_client("sns")
    events = stack.aws.boto3_client("events")
    topic_arn = str(stack.aws.resolve({"Ref": "NotificationsTopic"}))
    bus_name = str(stack.aws.resolve({"Ref": "EventBus"}))
    suffix = uuid.uuid4().hex[:8]

    def queue(name: str) -> tuple[str, str]:
        url = sqs.create_queue(QueueName=f"{name}-{suffix}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, arn

    all_url, all_arn = queue("sns-all")
    failed_url, failed_arn = queue("sns-failed")
    bus_url, bus_arn = queue("bus")
    sns.subscribe(
        TopicArn=topic_arn, Protocol="sqs", Endpoint=all_arn, Attributes={"RawMessageDelivery": "true"}
    )
    sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=failed_arn,
        Attributes={"RawMessageDelivery": "true", "FilterPolicy": json.dumps({"status": ["FAILED"]})},
    )
    rule = f"bridge-outcomes-{suffix}"
    events.put_rule(Name=rule, EventBusName=bus_name, EventPattern=json.dumps({"source": ["runway-bridge"]}))
    events.put_targets(Rule=rule, EventBusName=bus_name, Targets=[{"Id": "sink", "Arn": bus_arn}])
    return Sinks(stack, all_url, failed_url, bus_url)


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(hostname=RECEIVER_HOST) as running:
        yield running


@pytest.fixture(scope="module")
def stack(receiver: WebhookReceiver) -> Iterator[LocalStack]:
    overrides = {
        "BRIDGE_CALLBACK_HOST_OVERRIDES": json.dumps({RECEIVER_HOST: "127.0.0.1"}),
        "BRIDGE_WEBHOOK_CA_BUNDLE": receiver.ca_file or "",
        "BRIDGE_ALLOW_PRIVATE_CALLBACKS": "true",
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in overrides.items():
            patch.setenv(name, value)
        running = start_poller_stack(FAST_RETRIES)
        try:
            yield running
        finally:
            running.stop()


@pytest.fixture(scope="module")
def sinks(stack: LocalStack) -> Sinks:
    return subscribe_sinks(stack)


@pytest.fixture
def api(stack: LocalStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.api_url, timeout=40) as client:
        yield client
