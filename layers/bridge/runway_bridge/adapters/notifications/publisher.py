"""Notification fan-out: the SNS topic (message attributes for filter policies) and the EventBridge
bus (detail-type per outcome). Both carry the same JSON notification; both are at-least-once."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from runway_bridge.errors import StoreUnavailableError
from runway_bridge.models.notification import Notification


class SnsEventBridgePublisher:
    """Publishes on the topic and/or the bus; a channel whose name is None is off."""

    def __init__(self, *, sns: Any, events: Any, topic_arn: str | None, bus_name: str | None) -> None:
        self._sns = sns
        self._events = events
        self._topic_arn = topic_arn
        self._bus_name = bus_name

    def publish(self, notification: Notification) -> None:
        message = notification.to_json_bytes().decode()  # trimmed to fit SNS and EventBridge
        if self._topic_arn:
            attributes = {
                name: {"DataType": "String", "StringValue": value}
                for name, value in notification.attributes().items()
                if value  # SNS refuses empty attribute values
            }
            try:
                self._sns.publish(TopicArn=self._topic_arn, Message=message, MessageAttributes=attributes)
            except (BotoCoreError, ClientError) as exc:
                raise StoreUnavailableError(f"could not publish {notification.type} on SNS") from exc
        if self._bus_name:
            entry = {
                "EventBusName": self._bus_name,
                "Source": notification.source,
                "DetailType": notification.detail_type,
                "Detail": message,
                "Resources": [],
            }
            try:
                answer = self._events.put_events(Entries=[entry])
            except (BotoCoreError, ClientError) as exc:
                raise StoreUnavailableError(f"could not put {notification.type} on EventBridge") from exc
            if answer.get("FailedEntryCount"):
                raise StoreUnavailableError(
                    f"EventBridge refused {notification.type}: {answer.get('Entries')}"
                )
