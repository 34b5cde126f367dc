"""A tenant's redrive moves its own dead letters and leaves every other tenant's letter as it was:
still in the dead-letter queue and visible at once (SQS in moto)."""

from __future__ import annotations

import json
import uuid

from runway_bridge.adapters.notifications.webhook_queue import SqsWebhookDeadLetters
from runway_bridge.models.notification import WebhookMessage
from tests.integration.conftest import Aws


def letter(tenant_id: str, n: int) -> WebhookMessage:
    return WebhookMessage(
        event_id=f"{tenant_id}-e{n}", job_id=f"{tenant_id}-j{n}", tenant_id=tenant_id, type="task.succeeded"
    )


def queues(aws: Aws) -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:8]
    delivery = aws.sqs.create_queue(QueueName=f"hooks-{suffix}")["QueueUrl"]
    dead = aws.sqs.create_queue(QueueName=f"hooks-dlq-{suffix}")["QueueUrl"]
    return delivery, dead


def visible_now(aws: Aws, queue_url: str) -> list[str]:
    """The bodies of every message receivable right now (this look hides them for a minute)."""
    found: list[str] = []
    while messages := aws.sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=60
    ).get("Messages", []):
        found.extend(message["Body"] for message in messages)
    return found


def test_a_redrive_moves_only_the_callers_letters_and_others_stay_visible(aws: Aws) -> None:
    delivery, dead = queues(aws)
    dead_letters = SqsWebhookDeadLetters(aws.sqs, queue_url=delivery, dead_letter_queue_url=dead)
    # Interleaved, and more of the other tenant's than one receive returns.
    for n in range(12):
        dead_letters.dead_letter(letter("tenant-b", n), reason="receiver down")
        if n % 4 == 0:
            dead_letters.dead_letter(letter("tenant-a", n), reason="receiver down")
    aws.sqs.send_message(QueueUrl=dead, MessageBody="not a webhook message")

    moved = dead_letters.redrive("tenant-a")

    assert moved == 3
    redriven = sorted(json.loads(body)["eventId"] for body in visible_now(aws, delivery))
    assert redriven == ["tenant-a-e0", "tenant-a-e4", "tenant-a-e8"]
    # Tenant B's letters were not hidden by A's scan: B's own redrive, right after, finds them all.
    assert dead_letters.redrive("tenant-b") == 12
    redriven = sorted(json.loads(body)["eventId"] for body in visible_now(aws, delivery))
    assert redriven == sorted(f"tenant-b-e{n}" for n in range(12))
    # The unreadable letter belongs to nobody: it stays, visible.
    assert visible_now(aws, dead) == ["not a webhook message"]


def test_listing_shows_only_the_callers_letters_and_moves_nothing(aws: Aws) -> None:
    delivery, dead = queues(aws)
    dead_letters = SqsWebhookDeadLetters(aws.sqs, queue_url=delivery, dead_letter_queue_url=dead)
    for n in range(12):
        dead_letters.dead_letter(letter("tenant-b", n), reason="receiver down")
        if n % 4 == 0:
            dead_letters.dead_letter(letter("tenant-a", n), reason=f"the receiver answered 50{n}")
    aws.sqs.send_message(QueueUrl=dead, MessageBody="not a webhook message")

    listed = dead_letters.peek("tenant-a")

    assert sorted(letter.event_id for letter in listed) == ["tenant-a-e0", "tenant-a-e4", "tenant-a-e8"]
    by_event = {letter.event_id: letter for letter in listed}
    assert by_event["tenant-a-e4"].reason == "the receiver answered 504"
    assert by_event["tenant-a-e4"].job_id == "tenant-a-j4"
    assert by_event["tenant-a-e4"].type == "task.succeeded"
    assert all(letter.dead_lettered_at is not None for letter in listed)
    # Nothing moved, and every letter (the caller's own too) is visible again at once.
    assert visible_now(aws, delivery) == []
    assert len(visible_now(aws, dead)) == 3 + 12 + 1
