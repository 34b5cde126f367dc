"""Notification channels behind one port: the SNS topic, the EventBridge bus and the webhook queue are
one adapter each, and a channel added in wiring/notifications.py receives every notification the
relay and the deliverer send. The jobs store decodes the relay's stream records (one decoder)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from runway_bridge.adapters.jobs.store import DynamoJobStore, job_pk
from runway_bridge.adapters.notifications.channels import EventBridgeChannel, SnsChannel, WebhookQueueChannel
from runway_bridge.adapters.notifications.webhook_queue import SqsWebhookQueue
from runway_bridge.errors import StoreUnavailableError
from runway_bridge.logic.notifications.delivery import DeliveryOutcome, WebhookDelivery
from runway_bridge.models.events import EventType
from runway_bridge.models.job import BridgeFields, Job, JobStatus
from runway_bridge.models.notification import Notification, WebhookMessage, task_notification
from runway_bridge.models.outbox import OutboxEvent, terminal_event
from runway_bridge.models.records import DeliveryAttempt, DeliveryResult
from runway_bridge.settings import BridgeSettings
from runway_bridge.wiring import notifications as wiring
from runway_bridge.wiring.cache import clear_all
from tests.integration.conftest import TEXT_TO_VIDEO, Aws

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
CALLBACK = "https://hooks.example.com/x"


class InMemoryChannel:
    """A channel that takes everything (what a new channel, e.g. a Kinesis stream, would see)."""

    def __init__(self) -> None:
        self.received: list[tuple[Notification, str | None]] = []

    def publish(self, notification: Notification, job: Job | None) -> None:
        self.received.append((notification, job.job_id if job else None))


def running_job(**bridge: Any) -> Job:
    return Job(
        job_id=str(uuid.uuid4()),
        tenant_id="acme",
        operation="text_to_video",
        model="gen4.5",
        status=JobStatus.RUNNING,
        created_at=NOW,
        updated_at=NOW,
        request_hash="h",
        request_body=TEXT_TO_VIDEO,
        runway_task_id="task-1",
        progress=0.2,
        bridge=BridgeFields(**bridge),
    )


def queue_with_arn(aws: Aws, name: str) -> tuple[str, str]:
    url = aws.sqs.create_queue(QueueName=f"{name}-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def drain(aws: Aws, queue_url: str, *, wait_s: int = 1) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while True:
        batch = aws.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_s)
        messages = batch.get("Messages", [])
        if not messages:
            return found
        for message in messages:
            found.append(json.loads(message["Body"]))
            aws.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def raw_item(aws: Aws, pk: str, sk: str) -> dict[str, Any]:
    """An item in DynamoDB JSON: what a stream record's images hold."""
    item: dict[str, Any] = aws.dynamodb.get_item(
        TableName=aws.jobs_table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
    )["Item"]
    return item


def stream_record(
    event_name: str, new: dict[str, Any] | None, old: dict[str, Any] | None = None
) -> dict[str, Any]:
    change: dict[str, Any] = {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    if new is not None:
        change["NewImage"] = new
    if old is not None:
        change["OldImage"] = old
    return {
        "eventID": uuid.uuid4().hex,
        "eventName": event_name,
        "eventSource": "aws:dynamodb",
        "dynamodb": change,
    }


# --- the stream decoder (the jobs store) ------------------------------------------------------


def test_the_store_decodes_stream_records_into_events_and_progress_changes(aws: Aws) -> None:
    store = DynamoJobStore(aws.dynamodb, aws.jobs_table)
    job = running_job(callback_url=CALLBACK, events=["task.progress"])
    store.create(job)
    before = raw_item(aws, job_pk(job.job_id), "JOB")
    moved = store.update(store.get(job.job_id) or job, changes={"progress": 0.55})
    after = raw_item(aws, job_pk(job.job_id), "JOB")

    progressed = store.stream_change(stream_record("MODIFY", after, before))
    assert progressed is not None
    assert progressed.event is None
    assert progressed.progressed == moved  # floats decoded as the store reads them
    # Same progress (another field changed), a new job, a removed item: nothing for the relay.
    assert store.stream_change(stream_record("MODIFY", after, after)) is None
    assert store.stream_change(stream_record("INSERT", before)) is None
    assert store.stream_change(stream_record("REMOVE", None, after)) is None

    finished = moved.model_copy(update={"status": JobStatus.FAILED, "failure": "no"})
    store.transition(moved, JobStatus.FAILED, changes={"failure": "no"}, event=terminal_event(finished))
    [event] = store.outbox_events(job.job_id)
    inserted = raw_item(aws, job_pk(job.job_id), f"EVENT#{event.event_id}")
    decoded = store.stream_change(stream_record("INSERT", inserted))
    assert decoded is not None
    assert decoded.progressed is None
    assert decoded.event == event
    assert decoded.event.type is EventType.TASK_FAILED
    assert store.stream_change(stream_record("MODIFY", inserted, inserted)) is None  # marked published


# --- the adapters -------------------------------------------------------------------------------


def test_sns_and_eventbridge_take_outcomes_and_exhausted_webhooks_only(aws: Aws) -> None:
    sns = aws.client("sns")
    topic = sns.create_topic(Name=f"notes-{uuid.uuid4().hex[:8]}")["TopicArn"]
    topic_url, topic_arn = queue_with_arn(aws, "topic")
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=topic_arn, Attributes={"RawMessageDelivery": "true"}
    )
    bus = f"bus-{uuid.uuid4().hex[:8]}"
    aws.events.create_event_bus(Name=bus)
    bus_url, bus_arn = queue_with_arn(aws, "bus")
    aws.events.put_rule(Name=f"all-{bus}", EventBusName=bus, EventPattern='{"source": ["runway-bridge"]}')
    aws.events.put_targets(Rule=f"all-{bus}", EventBusName=bus, Targets=[{"Id": "q", "Arn": bus_arn}])
    channels = [SnsChannel(sns, topic), EventBridgeChannel(aws.events, bus)]

    for event_type in EventType:
        notification = Notification(id=f"id-{event_type}", type=event_type, timestamp=NOW, data={})
        for channel in channels:
            channel.publish(notification, None)

    broadcast = {f"id-{event_type}" for event_type in EventType if event_type.broadcast}
    assert {message["id"] for message in drain(aws, topic_url)} == broadcast
    on_bus = drain(aws, bus_url)
    assert {entry["detail"]["id"] for entry in on_bus} == broadcast
    assert {entry["detail-type"] for entry in on_bus} == {
        event_type.detail_type for event_type in EventType if event_type.broadcast
    }


def test_a_channel_that_refuses_raises_store_unavailable(aws: Aws) -> None:
    notification = Notification(id="e1", type=EventType.TASK_FAILED, timestamp=NOW, data={})
    missing_topic = "arn:aws:sns:us-east-1:123456789012:no-such-topic"
    with pytest.raises(StoreUnavailableError):
        SnsChannel(aws.client("sns"), missing_topic).publish(notification, None)
    with pytest.raises(StoreUnavailableError):
        EventBridgeChannel(aws.events, f"no-such-bus-{uuid.uuid4().hex[:6]}").publish(notification, None)
    job = running_job(callback_url=CALLBACK)
    with pytest.raises(StoreUnavailableError):
        WebhookQueueChannel(SqsWebhookQueue(aws.sqs, f"{aws.endpoint}/123456789012/none")).publish(
            notification, job
        )


def test_the_webhook_queue_takes_what_the_callback_wants_progress_inline(aws: Aws) -> None:
    queue_url, _ = queue_with_arn(aws, "webhooks")
    channel = WebhookQueueChannel(SqsWebhookQueue(aws.sqs, queue_url))
    job = running_job(callback_url=CALLBACK, events=["task.succeeded", "task.progress"])
    for event_type in EventType:
        channel.publish(Notification(id=f"id-{event_type}", type=event_type, timestamp=NOW, data={}), job)
    channel.publish(Notification(id="no-job", type=EventType.TASK_SUCCEEDED, timestamp=NOW, data={}), None)
    channel.publish(
        Notification(id="no-callback", type=EventType.TASK_SUCCEEDED, timestamp=NOW, data={}), running_job()
    )

    messages = {
        message["eventId"]: WebhookMessage.model_validate(message) for message in drain(aws, queue_url)
    }
    assert set(messages) == {"id-task.succeeded", "id-task.progress"}
    assert messages["id-task.succeeded"].notification is None  # rendered at each attempt
    assert messages["id-task.progress"].notification is not None  # no outbox item: travels inline
    assert messages["id-task.progress"].job_id == job.job_id


# --- a new channel, added in wiring -------------------------------------------------------------


@pytest.fixture
def wired(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[BridgeSettings, InMemoryChannel, str]]:
    """The deployed wiring on moto (topic, bus, webhook queue) plus one more channel, added the way
    a new one is: in the list `wiring.notifications.channels` returns."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws.endpoint)
    topic = aws.client("sns").create_topic(Name=f"notes-{uuid.uuid4().hex[:8]}")["TopicArn"]
    webhook_url, _ = queue_with_arn(aws, "webhooks")
    settings = BridgeSettings(
        jobs_table_name=aws.jobs_table,
        bucket_name=aws.bucket,
        event_bus_name=aws.bus,
        notifications_topic_arn=topic,
        webhook_queue_url=webhook_url,
    )
    memory = InMemoryChannel()
    deployed = wiring.channels
    monkeypatch.setattr(wiring, "channels", lambda settings: [*deployed(settings), memory])
    clear_all()
    yield settings, memory, webhook_url
    clear_all()


def test_a_channel_added_in_wiring_receives_every_notification_of_the_relay(
    aws: Aws, wired: tuple[BridgeSettings, InMemoryChannel, str]
) -> None:
    settings, memory, webhook_url = wired
    relay = wiring.build_relay(settings)
    store = DynamoJobStore(aws.dynamodb, aws.jobs_table)
    job = running_job(callback_url=CALLBACK, events=["task.succeeded", "task.failed", "task.progress"])
    store.create(job)
    before = raw_item(aws, job_pk(job.job_id), "JOB")
    moved = store.update(job, changes={"progress": 0.6})
    progress = relay.relay_stream_record(
        stream_record("MODIFY", raw_item(aws, job_pk(job.job_id), "JOB"), before)
    )
    finished = moved.model_copy(update={"status": JobStatus.FAILED, "failure": "no"})
    store.transition(moved, JobStatus.FAILED, changes={"failure": "no"}, event=terminal_event(finished))
    [event] = store.outbox_events(job.job_id)
    published = relay.relay_stream_record(
        stream_record("INSERT", raw_item(aws, job_pk(job.job_id), f"EVENT#{event.event_id}"))
    )
    # One for each remaining outcome type, through the sweep's path.
    others = [
        OutboxEvent(
            event_id=str(uuid.uuid4()),
            type=event_type,
            job_id=job.job_id,
            tenant_id=job.tenant_id,
            created_at=NOW,
            payload={},
        )
        for event_type in EventType
        if event_type.is_outcome and event_type is not EventType.TASK_FAILED
    ]
    for other in others:
        relay.publish_event(other)

    assert progress.progress is not None
    assert published.published is not None
    assert [(n.id, n.type, job_id) for n, job_id in memory.received] == [
        (progress.progress.id, EventType.TASK_PROGRESS, job.job_id),
        (event.event_id, EventType.TASK_FAILED, job.job_id),
        *[(other.event_id, other.type, job.job_id) for other in others],
    ]
    # The deployed channels still took theirs: the webhook queue what the callback asked for.
    queued = {message["eventId"]: message["type"] for message in drain(aws, webhook_url)}
    assert queued == {
        progress.progress.id: "task.progress",
        event.event_id: "task.failed",
        others[0].event_id: "task.succeeded",
    }


class DeliveryFakes:
    """Everything webhook delivery needs, in memory, for a receiver that always answers 500."""

    def __init__(self, job: Job, event: OutboxEvent) -> None:
        self.job = job
        self.event = event
        self.dead: list[str] = []

    def get(self, job_id: str) -> Job | None:
        return self.job

    def get_outbox_event(self, job_id: str, event_id: str) -> OutboxEvent | None:
        return self.event

    def record_attempt(self, job_id: str, attempt: DeliveryAttempt) -> None:
        return None

    def attempts(self, job_id: str) -> list[DeliveryAttempt]:
        return []

    def signing_secrets(self, tenant_id: str) -> list[str]:
        return ["whsec_dGVzdC1zZWNyZXQtZm9yLXRoZS10ZXN0LWhvb2s="]

    def send(self, url: str, *, headers: Any, body: bytes) -> DeliveryResult:
        return DeliveryResult(status_code=500, latency_ms=3)

    def dead_letter(self, message: WebhookMessage, *, reason: str) -> None:
        self.dead.append(message.event_id)


def test_an_exhausted_webhook_reaches_every_channel_and_retries_follow_the_one_rule() -> None:
    job = running_job(callback_url=CALLBACK).model_copy(update={"status": JobStatus.FAILED})
    event = terminal_event(job)
    fakes = DeliveryFakes(job, event)
    memory = InMemoryChannel()
    delivery = WebhookDelivery(
        jobs=fakes,
        attempts=fakes,
        secrets=fakes,  # type: ignore[arg-type]
        sender=fakes,
        channels=[memory],
        dead_letters=fakes,
        render=lambda event, job: task_notification(event, []),
        schedule_s=[0.0, 300.0, 1800.0],
        clock=lambda: NOW + timedelta(hours=1),
        jitter=lambda low, high: high,
    )
    message = WebhookMessage(event_id=event.event_id, job_id=job.job_id, tenant_id="acme", type=event.type)

    retry = delivery.deliver(message, 1)
    assert (retry.outcome, retry.retry_in_s) == (DeliveryOutcome.RETRYING, pytest.approx(330.0))
    assert memory.received == []
    exhausted = delivery.deliver(message, 3)

    assert exhausted.outcome is DeliveryOutcome.EXHAUSTED
    assert fakes.dead == [event.event_id]
    [(notification, job_id)] = memory.received
    assert (notification.type, job_id) == (EventType.WEBHOOK_EXHAUSTED, job.job_id)
