"""The webhook delivery queue (SQS): enqueue a delivery. (The deliverer's side, retry scheduling,
dead-lettering and redrive, lives here too.)"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from runway_bridge.errors import StoreUnavailableError
from runway_bridge.models.notification import WebhookMessage

# SQS's longest DelaySeconds; later retries use ChangeMessageVisibility instead.
MAX_DELAY_S = 900


class SqsWebhookQueue:
    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def enqueue(self, message: WebhookMessage, *, delay_s: int = 0) -> None:
        try:
            self._client.send_message(
                QueueUrl=self._queue_url,
                MessageBody=message.model_dump_json(by_alias=True, exclude_none=True),
                DelaySeconds=max(0, min(int(delay_s), MAX_DELAY_S)),
            )
        except (BotoCoreError, ClientError) as exc:
            raise StoreUnavailableError("could not queue the webhook delivery") from exc

    def retry_in(self, queue_url: str, receipt_handle: str, delay_s: float) -> None:
        """The received message comes back after `delay_s` (SQS allows 0-43200 s: the 10 h steps fit)."""
        try:
            self._client.change_message_visibility(
                QueueUrl=queue_url,
                ReceiptHandle=receipt_handle,
                VisibilityTimeout=max(0, min(int(delay_s), 43200)),
            )
        except (BotoCoreError, ClientError) as exc:
            raise StoreUnavailableError("could not reschedule the webhook message") from exc


class SqsWebhookDeadLetters:
    """Dead-lettering by the deliverer itself (so the exhausted event is published with it), and the
    redrive back to the delivery queue."""

    def __init__(self, client: Any, *, queue_url: str, dead_letter_queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url
        self._dlq_url = dead_letter_queue_url

    def dead_letter(self, message: WebhookMessage, *, reason: str) -> None:
        try:
            self._client.send_message(
                QueueUrl=self._dlq_url,
                MessageBody=message.model_dump_json(by_alias=True, exclude_none=True),
                MessageAttributes={
                    "tenantId": {"DataType": "String", "StringValue": message.tenant_id},
                    "reason": {"DataType": "String", "StringValue": reason[:1000] or "-"},
                },
            )
        except (BotoCoreError, ClientError) as exc:
            raise StoreUnavailableError("could not dead-letter the webhook message") from exc

    def redrive(self, tenant_id: str, *, max_messages: int = 1000) -> int:
        """Move the tenant's dead-lettered deliveries back to the delivery queue (a fresh message, so
        the whole retry schedule applies again). Other tenants' messages stay. Returns how many moved."""
        moved = 0
        seen: set[str] = set()
        try:
            while moved < max_messages:
                answer = self._client.receive_message(
                    QueueUrl=self._dlq_url,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=0,
                    VisibilityTimeout=30,
                    MessageAttributeNames=["All"],
                )
                messages = answer.get("Messages", [])
                fresh = [m for m in messages if m["MessageId"] not in seen]
                if not fresh:
                    break
                for raw in fresh:
                    seen.add(raw["MessageId"])
                    message = WebhookMessage.model_validate_json(raw["Body"])
                    if message.tenant_id != tenant_id:
                        continue  # stays hidden for 30 s, then visible again for its own tenant
                    self._client.send_message(QueueUrl=self._queue_url, MessageBody=raw["Body"])
                    self._client.delete_message(QueueUrl=self._dlq_url, ReceiptHandle=raw["ReceiptHandle"])
                    moved += 1
        except (BotoCoreError, ClientError) as exc:
            raise StoreUnavailableError(f"the redrive stopped after {moved} messages") from exc
        return moved
