"""The copy queue (SQS): bring a failed copy message back sooner than the queue's visibility timeout.

The queue's visibility timeout must cover the copier's 15-minute timeout several times over, so a
message left to it returns after 90 minutes. A transient failure (Runway or S3 unavailable for a
moment) deserves a sooner retry: the copier sets the message's remaining visibility itself.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from runway_bridge.errors import StoreUnavailableError


class SqsCopyQueue:
    def __init__(self, client: Any) -> None:
        self._client = client

    def retry_in(self, queue_url: str, receipt_handle: str, delay_s: int) -> None:
        """Make the received message visible again after `delay_s` seconds (SQS allows 0-43200)."""
        try:
            self._client.change_message_visibility(
                QueueUrl=queue_url,
                ReceiptHandle=receipt_handle,
                VisibilityTimeout=max(0, min(delay_s, 43200)),
            )
        except (BotoCoreError, ClientError) as exc:
            raise StoreUnavailableError("could not reschedule the copy message") from exc
