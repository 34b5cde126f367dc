"""The notification channels (`logic.ports.NotificationChannel`): the SNS topic (message attributes
for filter policies), the EventBridge bus (detail-type per type) and the webhook delivery queue. The
topic and the bus carry the same JSON notification, trimmed to fit them; all are at-least-once, and
a channel that cannot take a notification raises `StoreUnavailableError`."""

from __future__ import annotations

from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from runway_bridge.errors import StoreUnavailableError
from runway_bridge.models.job import Job
from runway_bridge.models.notification import Notification, WebhookMessage, callback_wants


class SnsChannel:
    """The notifications topic: outcomes and `webhook.exhausted` (`EventType.broadcast`)."""

    def __init__(self, client: Any, topic_arn: str) -> None:
        self._client = client
        self._topic_arn = topic_arn

    def publish(self, notification: Notification, job: Job | None) -> None:
        if not notification.type.broadcast:
            return
        attributes = {
            name: {"DataType": "String", "StringValue": value}
            for name, value in notification.attributes().items()
            if value  # SNS refuses empty attribute values
        }
        try:
            self._client.publish(
                TopicArn=self._topic_arn,
                Message=notification.to_json_bytes().decode(),  # trimmed to fit
                MessageAttributes=attributes,
            )
        except (BotoCoreError, ClientError) as exc:
            raise StoreUnavailableError(f"could not publish {notification.type} on SNS") from exc


class EventBridgeChannel:
    """The bridge's bus: outcomes and `webhook.exhausted` (`EventType.broadcast`), `source`
    runway-bridge, detail-type per type, `detail` = the notification."""

    def __init__(self, client: Any, bus_name: str) -> None:
        self._client = client
        self._bus_name = bus_name

    def publish(self, notification: Notification, job: Job | None) -> None:
        if not notification.type.broadcast:
            return
        entry = {
            "EventBusName": self._bus_name,
            "Source": notification.source,
            "DetailType": notification.detail_type,
            "Detail": notification.to_json_bytes().decode(),  # trimmed to fit
            "Resources": [],
        }
        try:
            answer = self._client.put_events(Entries=[entry])
        except (BotoCoreError, ClientError) as exc:
            raise StoreUnavailableError(f"could not put {notification.type} on EventBridge") from exc
        if answer.get("FailedEntryCount"):
            raise StoreUnavailableError(f"EventBridge refused {notification.type}: {answer.get('Entries')}")


class _DeliveryQueue(Protocol):
    def enqueue(self, message: WebhookMessage, *, delay_s: int = 0) -> None: ...


class WebhookQueueChannel:
    """A webhook delivery, queued for what the job's callback wants (`callback_wants`). An outcome
    has its outbox item: the deliverer renders it at each attempt (fresh presigned URLs). Any other
    notification (a progress step) travels inline, rendered now."""

    def __init__(self, queue: _DeliveryQueue) -> None:
        self._queue = queue

    def publish(self, notification: Notification, job: Job | None) -> None:
        if job is None or not callback_wants(job, notification.type):
            return
        self._queue.enqueue(
            WebhookMessage(
                event_id=notification.id,
                job_id=job.job_id,
                tenant_id=job.tenant_id,
                type=notification.type,
                notification=None if notification.type.is_outcome else notification.to_json_dict(),
            )
        )
