"""A notification always fits its channels (256 KB for SNS, EventBridge and SQS), whatever the job
holds: a job recorded with huge metadata before the caps, a long Runway failure message, thousands of
outputs. Published through the real adapter to moto's SNS, which refuses messages over 256 KiB."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from runway_bridge.adapters.notifications.channels import EventBridgeChannel, SnsChannel, WebhookQueueChannel
from runway_bridge.logic.notifications.delivery import encode_body
from runway_bridge.logic.notifications.relay import NotificationRelay
from runway_bridge.models.job import Job, JobOutput, JobStatus, StoredBridgeFields
from runway_bridge.models.notification import TRIMMED_TEXT_MAX_CHARS, Notification, NotificationOutput
from runway_bridge.models.outbox import terminal_event
from tests.integration.conftest import Aws
from tests.integration.notifications.test_relay import Fakes

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
CHANNEL_LIMIT = 256 * 1024


def oversized_job(*, outputs: int = 1, failure: str | None = None) -> Job:
    return Job(
        job_id="job-big",
        tenant_id="acme",
        operation="text_to_video",
        model="gen4.5",
        status=JobStatus.FAILED if failure else JobStatus.SUCCEEDED,
        created_at=NOW,
        updated_at=NOW,
        request_hash="h",
        # What was accepted before metadata had caps: 20 values of 15 KB.
        bridge=StoredBridgeFields(
            callback_url="https://hooks.example.com/x",
            reference="ref-1",
            metadata={f"k{i}": "v" * 15_000 for i in range(20)},
        ),
        failure=failure,
        failure_code="INTERNAL.BAD_OUTPUT" if failure else None,
        outputs=[
            JobOutput(
                index=i,
                s3_uri=f"s3://b/outputs/job-big/{i}.mp4",
                sha256="ab" * 32,
                content_type="video/mp4",
                size=3,
            )
            for i in range(outputs)
        ],
    )


def presigned(job: Job) -> list[NotificationOutput]:
    url = "https://b.s3.amazonaws.com/outputs/x.mp4?" + "X-Amz-Security-Token=" + "t" * 1500
    return [
        NotificationOutput(
            index=o.index, s3_uri=o.s3_uri, url=url, content_type=o.content_type, size=o.size, sha256=o.sha256
        )
        for o in job.outputs
    ]


def sns_relay(aws: Aws, fakes: Fakes) -> tuple[NotificationRelay, str]:
    """A relay publishing on a fresh moto topic, and a queue subscribed to it (raw delivery)."""
    sns = aws.client("sns")
    topic = sns.create_topic(Name=f"notes-{uuid.uuid4().hex[:8]}")["TopicArn"]
    queue_url = aws.sqs.create_queue(QueueName=f"notes-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = aws.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
    )
    channels = [SnsChannel(sns, topic), EventBridgeChannel(aws.events, aws.bus), WebhookQueueChannel(fakes)]
    relay = NotificationRelay(store=fakes, channels=channels, outputs=presigned, clock=lambda: NOW)
    return relay, queue_url


def received(aws: Aws, queue_url: str) -> tuple[int, dict[str, Any]]:
    messages = aws.sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=5)["Messages"]
    body = messages[0]["Body"]
    return len(body.encode()), json.loads(body)


def test_an_oversized_failed_job_is_published_trimmed_and_marked(aws: Aws) -> None:
    failure = "Runway said: " + "x" * 400_000
    fakes = Fakes(oversized_job(failure=failure))
    relay, queue_url = sns_relay(aws, fakes)
    event = terminal_event(fakes.job)

    relay.publish_event(event)

    assert fakes.marked == [event.event_id]  # every channel took it
    size, message = received(aws, queue_url)
    assert size < CHANNEL_LIMIT
    assert message["truncated"] is True
    data = message["data"]
    assert (data["jobId"], data["status"], data["failureCode"], data["reference"]) == (
        "job-big",
        "FAILED",
        "INTERNAL.BAD_OUTPUT",
        "ref-1",
    )
    assert data["failure"].startswith("Runway said: ")
    assert len(data["failure"]) <= TRIMMED_TEXT_MAX_CHARS + 1
    # The webhook body is the same trimmed JSON.
    webhook_body = encode_body(relay.render(event, fakes.job))
    assert len(webhook_body) < CHANNEL_LIMIT
    assert json.loads(webhook_body) == message


def test_thousands_of_outputs_keep_as_many_as_fit_in_order(aws: Aws) -> None:
    fakes = Fakes(oversized_job(outputs=1000))
    relay, queue_url = sns_relay(aws, fakes)

    relay.publish_event(terminal_event(fakes.job))

    size, message = received(aws, queue_url)
    assert size < CHANNEL_LIMIT
    assert message["truncated"] is True
    outputs = message["data"]["outputs"]
    assert 0 < len(outputs) < 1000
    assert [o["index"] for o in outputs] == list(range(len(outputs)))


def test_a_notification_that_fits_is_sent_whole_and_not_marked() -> None:
    notification = Notification(id="e1", type="webhook.test", timestamp=NOW, data={"message": "m" * 10_000})
    wire = notification.to_json_dict()
    assert wire["truncated"] is False
    assert wire["data"] == {"message": "m" * 10_000}
