"""SQS consumers (the copier, the webhook deliverer) bring a failed message back on their own
schedule instead of the queue's visibility timeout: a message left to it would return only after
the timeout, which must cover the consumer's own timeout several times over."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from runway_bridge.errors import StoreUnavailableError

# SQS accepts a visibility timeout of 0 to 43,200 s.
MAX_VISIBILITY_S = 43200


class SqsRedelivery:
    def __init__(self, client: Any) -> None:
        self._client = client

    def retry_in(self, queue_url: str, receipt_handle: str, delay_s: float) -> None:
        """The received message comes back after `delay_s` seconds (clipped to what SQS allows)."""
        try:
            self._client.change_message_visibility(
                QueueUrl=queue_url,
                ReceiptHandle=receipt_handle,
                VisibilityTimeout=max(0, min(int(delay_s), MAX_VISIBILITY_S)),
            )
        except (BotoCoreError, ClientError) as exc:
            raise StoreUnavailableError("could not reschedule the queue message") from exc
