"""The webhook delivery queue (SQS): enqueue a delivery. (The deliverer's side, retry scheduling,
dead-lettering and redrive, lives here too.)"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from runway_bridge.errors import StoreUnavailableError
from runway_bridge.models.notification import WebhookMessage
from runway_bridge.models.records import DeadLetter
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
        the whole retry schedule applies again). Returns how many moved."""

        def move(raw: dict[str, Any]) -> bool:
            self._client.send_message(QueueUrl=self._queue_url, MessageBody=raw["Body"])
            self._client.delete_message(QueueUrl=self._dlq_url, ReceiptHandle=raw["ReceiptHandle"])
            return True

        return self._scan(tenant_id, move, max_own=max_messages, doing="the redrive")

    def peek(self, tenant_id: str, *, max_letters: int = 100) -> list[DeadLetter]:
        """The tenant's dead letters (at most `max_letters`), oldest first. Nothing moves: every
        letter the scan received, the tenant's own included, is made visible again when it ends."""
        found: list[DeadLetter] = []

        def keep(raw: dict[str, Any]) -> bool:
            letter = _dead_letter(raw)
            if letter is not None:
                found.append(letter)
            return False  # stays in the queue

        self._scan(tenant_id, keep, max_own=max_letters, doing="reading the dead letters")
        oldest_first = sorted(
            found, key=lambda letter: letter.dead_lettered_at or datetime.min.replace(tzinfo=UTC)
        )
        return oldest_first[:max_letters]

    def _scan(
        self, tenant_id: str, on_own: Callable[[dict[str, Any]], bool], *, max_own: int, doing: str
    ) -> int:
        """Receive the dead-letter queue through once, handing each of the tenant's letters to
        `on_own` (True: it consumed the letter). Returns how many of its letters were handed over.

        Receiving is the only way to read the queue, and it hides what it receives. Letters left
        in the queue stay hidden while the scan goes on (released at once, they would be received
        again and the scan would never reach the letters behind them), and are made visible again
        (visibility 0) as soon as the scan ends, whatever ends it: another tenant's redrive or a
        look at the queue never misses them for a visibility timeout."""
        handled = 0
        seen: set[str] = set()
        held: list[str] = []  # receipt handles of letters this scan hides and leaves in the queue
        try:
            while handled < max_own:
                answer = self._client.receive_message(
                    QueueUrl=self._dlq_url,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=0,
                    VisibilityTimeout=SCAN_VISIBILITY_S,
                    MessageAttributeNames=["All"],
                    MessageSystemAttributeNames=["SentTimestamp"],
                )
                messages = answer.get("Messages", [])
                fresh = [m for m in messages if m["MessageId"] not in seen]
                if not fresh:
                    break
                for raw in fresh:
                    seen.add(raw["MessageId"])
                    if _tenant_of(raw) != tenant_id or handled >= max_own:
                        held.append(raw["ReceiptHandle"])
                        continue
                    if not on_own(raw):
                        held.append(raw["ReceiptHandle"])
                    handled += 1
        except (BotoCoreError, ClientError) as exc:
            raise StoreUnavailableError(f"{doing} stopped after {handled} messages") from exc
        finally:
            self._release(held)
        return handled

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
                logger.warning("could not release dead letters after a scan", extra={"count": len(batch)})


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


def _dead_letter(raw: dict[str, Any]) -> DeadLetter | None:
    """A dead letter as its tenant sees it (None for a body that does not parse)."""
    try:
        message = WebhookMessage.model_validate_json(raw["Body"])
    except ValueError:
        return None
    reason = raw.get("MessageAttributes", {}).get("reason", {}).get("StringValue")
    sent_ms = raw.get("Attributes", {}).get("SentTimestamp")
    return DeadLetter(
        event_id=message.event_id,
        job_id=message.job_id,
        type=message.type,
        reason=str(reason) if reason else None,
        dead_lettered_at=datetime.fromtimestamp(int(sent_ms) / 1000, UTC) if sent_ms else None,
    )
