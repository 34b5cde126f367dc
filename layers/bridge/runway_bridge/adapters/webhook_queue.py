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
