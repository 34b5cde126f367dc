"""Notification channels that record what they were given (kept small: the channels port changes)."""

from __future__ import annotations

from collections.abc import Mapping

from runway_bridge.errors import StoreUnavailableError
from runway_bridge.models.job import Job
from runway_bridge.models.notification import Notification, WebhookMessage
from runway_bridge.models.outbox import GenerationRejectedDetail
from runway_bridge.models.records import DeliveryResult


class RecordingChannel:
    """`NotificationChannel` taking what SNS and EventBridge take (`EventType.broadcast`); `refuse`
    makes it raise like a refused put."""

    def __init__(self) -> None:
        self.published: list[Notification] = []
        self.refuse = False

    def publish(self, notification: Notification, job: Job | None) -> None:
        if self.refuse:
            raise StoreUnavailableError("a channel refused the notification (injected)")
        if notification.type.broadcast:
            self.published.append(notification)


class RecordingWebhookQueue:
    def __init__(self) -> None:
        self.messages: list[tuple[WebhookMessage, int]] = []

    def enqueue(self, message: WebhookMessage, *, delay_s: int = 0) -> None:
        self.messages.append((message, delay_s))


class ScriptedWebhookSender:
    """`WebhookSender` answering `answers` in order (then 200), recording each POST."""

    def __init__(self, *answers: DeliveryResult) -> None:
        self.answers = list(answers)
        self.sent: list[tuple[str, dict[str, str], bytes]] = []

    def send(self, url: str, *, headers: Mapping[str, str], body: bytes) -> DeliveryResult:
        self.sent.append((url, dict(headers), body))
        return self.answers.pop(0) if self.answers else DeliveryResult(status_code=200, latency_ms=5)


class RecordingDeadLetters:
    def __init__(self) -> None:
        self.messages: list[tuple[WebhookMessage, str]] = []

    def dead_letter(self, message: WebhookMessage, *, reason: str) -> None:
        self.messages.append((message, reason))


class RecordingRejections:
    """`RejectionPublisher`."""

    def __init__(self) -> None:
        self.rejections: list[GenerationRejectedDetail] = []

    def publish_rejection(self, rejection: GenerationRejectedDetail) -> None:
        self.rejections.append(rejection)
