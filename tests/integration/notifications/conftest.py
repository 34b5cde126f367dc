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
import trustme

from runway_bridge_dev.local.stack import LocalStack
from tests.e2e.api.conftest import Tenant
from tests.integration.notifications.receiver import WebhookReceiver
from tests.integration.poller.conftest import start_poller_stack

RECEIVER_HOST: Final = "hooks.receiver.test"
# A silent receiver costs each attempt this long (15 s in production); still far above a loopback
# delivery's few milliseconds on a loaded machine.
WEBHOOK_TIMEOUT_S: Final = 3
# The schedule compressed 5000 times: 0, 0, 0.06, 0.36, 1.4, 3.6, 7.2, 7.2 s (visibility is whole seconds).
FAST_RETRIES: Final = {"WebhookRetryScale": "0.0002", "WebhookTimeoutSeconds": str(WEBHOOK_TIMEOUT_S)}
# Tasks of this model run long enough at the emulator for the poller to read several progress steps.
PROGRESS_MODEL: Final = "veo3.1_fast"


@dataclass(frozen=True)
class KeyedTenant(Tenant):
    """A tenant whose webhook secret the test knows (it is shown once, at key creation)."""

    webhook_secret: str = ""


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
def receiver_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def receiver(receiver_ca: trustme.CA) -> Iterator[WebhookReceiver]:
    """A fresh receiver per test (its own port), trusted through the module's CA."""
    with WebhookReceiver(hostname=RECEIVER_HOST, ca=receiver_ca) as running:
        yield running


@pytest.fixture(scope="module")
def stack(receiver_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    ca_file = tmp_path_factory.mktemp("ca") / "ca.pem"
    receiver_ca.cert_pem.write_to_path(str(ca_file))
    overrides = {
        "BRIDGE_CALLBACK_HOST_OVERRIDES": json.dumps({RECEIVER_HOST: "127.0.0.1"}),
        "BRIDGE_WEBHOOK_CA_BUNDLE": str(ca_file),
        "BRIDGE_ALLOW_PRIVATE_CALLBACKS": "true",
        "BRIDGE_ALLOW_ANY_CALLBACK_PORT": "true",
        # The deliverer is another function than the API that rotates (as on AWS, where each runs
        # in its own process): it re-reads which secrets sign on every attempt here, instead of
        # within the default 10 s (tests/integration/notifications/test_secret_rotation.py).
        "BRIDGE_WEBHOOK_SECRET_RECHECK_S": "0",
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in overrides.items():
            patch.setenv(name, value)
        running = start_poller_stack(FAST_RETRIES, durations={PROGRESS_MODEL: 15.0})
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
