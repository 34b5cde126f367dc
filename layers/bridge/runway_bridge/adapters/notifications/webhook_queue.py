"""The webhook delivery queue (SQS): enqueue a delivery. (The deliverer's side, retry scheduling,
dead-lettering and redrive, lives here too.)"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from runway_bridge.errors import StoreUnavailableError
from runway_bridge.models.notification import WebhookMessage
from runway_bridge.observability import logger

# SQS's longest DelaySeconds; later retries use ChangeMessageVisibility instead.
MAX_DELAY_S = 900
# How long a redrive scan hides what it receives if it dies before releasing it.
SCAN_VISIBILITY_S = 30


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
        the whole retry schedule applies again). Returns how many moved.

        Receiving is the only way to read the queue, and it hides what it receives. Other tenants'
        letters stay hidden while the scan goes on (released at once, they would be received again
        and the scan would never reach the letters behind them), and are made visible again
        (visibility 0) as soon as the scan ends, whatever ends it: another tenant's redrive or a
        look at the queue never misses them for a visibility timeout."""
        moved = 0
        seen: set[str] = set()
        others: list[str] = []  # receipt handles of other tenants' letters, hidden by this scan
        try:
            while moved < max_messages:
                answer = self._client.receive_message(
                    QueueUrl=self._dlq_url,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=0,
                    VisibilityTimeout=SCAN_VISIBILITY_S,
                    MessageAttributeNames=["All"],
                )
                messages = answer.get("Messages", [])
                fresh = [m for m in messages if m["MessageId"] not in seen]
                if not fresh:
                    break
                for raw in fresh:
                    seen.add(raw["MessageId"])
                    if _tenant_of(raw) != tenant_id:
                        others.append(raw["ReceiptHandle"])
                        continue
                    self._client.send_message(QueueUrl=self._queue_url, MessageBody=raw["Body"])
                    self._client.delete_message(QueueUrl=self._dlq_url, ReceiptHandle=raw["ReceiptHandle"])
                    moved += 1
        except (BotoCoreError, ClientError) as exc:
            raise StoreUnavailableError(f"the redrive stopped after {moved} messages") from exc
        finally:
            self._release(others)
        return moved

    def _release(self, receipt_handles: list[str]) -> None:
        """Make received letters visible again now. Best effort: if this fails, they come back by
        themselves after `SCAN_VISIBILITY_S`."""
        for start in range(0, len(receipt_handles), 10):  # SQS batches hold at most 10 entries
            batch = receipt_handles[start : start + 10]
            try:
                self._client.change_message_visibility_batch(
                    QueueUrl=self._dlq_url,
                    Entries=[
                        {"Id": str(index), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                        for index, handle in enumerate(batch)
                    ],
                )
            except (BotoCoreError, ClientError):
                logger.warning(
                    "could not release dead letters after a redrive scan", extra={"count": len(batch)}
                )


def _tenant_of(raw: dict[str, Any]) -> str | None:
    """The tenant of a dead letter: its message attribute, else its body (a body that does not parse
    belongs to nobody, so no tenant's redrive moves it)."""
    attribute = raw.get("MessageAttributes", {}).get("tenantId", {}).get("StringValue")
    if attribute:
        return str(attribute)
    try:
        return WebhookMessage.model_validate_json(raw["Body"]).tenant_id
    except ValueError:
        return None
