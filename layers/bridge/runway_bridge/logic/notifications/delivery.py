"""Webhook delivery: one attempt per call, the queue carries the schedule (docs/events.md,
"Webhook delivery").

An attempt renders the notification now (fresh presigned URLs), signs it with the tenant's current
secret (and the previous one during a rotation) under `webhook-id` = the event id, POSTs it through
the SSRF-guarded sender and records the attempt on the job. Then:

- 2xx: delivered.
- 410 Gone: the receiver wants nothing more about this job: no further attempts, and later events of
  the job are not sent either.
- anything else (an error status, a redirect, a timeout, a refused address): retried after
  `schedule[n]` seconds (immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h by default; stretched
  by up to 10 % so failures together do not come back together: logic/retry.py) until the
  schedule is used up; then the message goes to the dead-letter queue and `webhook.exhausted` is
  handed to every notification channel (SNS and EventBridge take it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from runway_bridge.logic.notifications.relay import publish_on
from runway_bridge.logic.notifications.signing import webhook_headers
from runway_bridge.logic.ports import (
    Clock,
    DeliveryAttemptStore,
    NotificationChannel,
    TenantSecrets,
    WebhookSender,
)
from runway_bridge.logic.retry import Uniform, retry_delay_s, spread
from runway_bridge.models.events import EventType
from runway_bridge.models.job import Job
from runway_bridge.models.notification import (
    Notification,
    WebhookExhaustedData,
    WebhookMessage,
    exhausted_event_id,
)
from runway_bridge.models.outbox import OutboxEvent
from runway_bridge.models.records import DeliveryAttempt, DeliveryResult

GONE = 410


class DeliveryOutcome(Enum):
    DELIVERED = "delivered"
    RETRYING = "retrying"
    STOPPED = "stopped"  # the receiver answered 410
    EXHAUSTED = "exhausted"
    SKIPPED = "skipped"  # nothing to send: job deleted, no callback, receiver said 410 before


@dataclass(frozen=True)
class DeliveryDecision:
    outcome: DeliveryOutcome
    retry_in_s: float | None = None
    result: DeliveryResult | None = None
    reason: str | None = None


class DeliveryJobs(Protocol):
    def get(self, job_id: str) -> Job | None: ...

    def get_outbox_event(self, job_id: str, event_id: str) -> OutboxEvent | None: ...


class DeadLetters(Protocol):
    def dead_letter(self, message: WebhookMessage, *, reason: str) -> None: ...


def encode_body(notification: Notification) -> bytes:
    return notification.to_json_bytes()


class WebhookDelivery:
    def __init__(
        self,
        *,
        jobs: DeliveryJobs,
        attempts: DeliveryAttemptStore,
        secrets: TenantSecrets,
        sender: WebhookSender,
        channels: Sequence[NotificationChannel],
        dead_letters: DeadLetters,
        render: Callable[[OutboxEvent, Job], Notification],
        schedule_s: Sequence[float],
        clock: Clock,
        jitter: Uniform = spread,
    ) -> None:
        if not schedule_s:
            raise ValueError("the retry schedule needs at least one attempt")
        self._jobs = jobs
        self._attempts = attempts
        self._secrets = secrets
        self._sender = sender
        self._channels = tuple(channels)
        self._dead_letters = dead_letters
        self._render = render
        self._schedule = list(schedule_s)
        self._clock = clock
        self._jitter = jitter

    @property
    def max_attempts(self) -> int:
        return len(self._schedule)

    def deliver(self, message: WebhookMessage, attempt_number: int) -> DeliveryDecision:
        """Attempt `attempt_number` (1-based) of delivering `message`."""
        job = self._jobs.get(message.job_id)
        if job is None:
            return DeliveryDecision(DeliveryOutcome.SKIPPED, reason="the job no longer exists")
        url = job.bridge.callback_url
        if not url:
            return DeliveryDecision(DeliveryOutcome.SKIPPED, reason="the job has no callback URL")
        if any(
            attempt.outcome == DeliveryOutcome.STOPPED.value
            for attempt in self._attempts.attempts(job.job_id)
        ):
            return DeliveryDecision(DeliveryOutcome.SKIPPED, reason="the receiver answered 410 for this job")
        notification = self._notification(message, job)
        if notification is None:
            return DeliveryDecision(DeliveryOutcome.SKIPPED, reason="the event no longer exists")
        result = self.send(url, job.tenant_id, notification)
        now = self._clock()
        decision = self._decide(result, attempt_number)
        self._attempts.record_attempt(
            job.job_id,
            DeliveryAttempt(
                event_id=message.event_id,
                event_type=message.type,
                number=attempt_number,
                at=now,
                url=url,
                status_code=result.status_code,
                latency_ms=result.latency_ms,
                error=result.error,
                outcome=decision.outcome.value,
                answer_excerpt=result.answer_excerpt,
            ),
        )
        if decision.outcome is DeliveryOutcome.EXHAUSTED:
            self._exhaust(message, job, url, attempt_number, result)
        return decision

    def send(self, url: str, tenant_id: str, notification: Notification) -> DeliveryResult:
        """One signed POST of `notification` (also what the test-webhook endpoint uses)."""
        body = encode_body(notification)
        timestamp = int(self._clock().timestamp())
        headers = webhook_headers(self._secrets.signing_secrets(tenant_id), notification.id, timestamp, body)
        return self._sender.send(url, headers=headers, body=body)

    def test_notification(self, tenant_id: str, event_id: str) -> Notification:
        return Notification(
            id=event_id,
            type=EventType.WEBHOOK_TEST,
            timestamp=self._clock(),
            data={"tenantId": tenant_id, "message": "a test event from runway-bridge"},
        )

    def _notification(self, message: WebhookMessage, job: Job) -> Notification | None:
        if message.notification is not None:
            return Notification.model_validate(message.notification)
        event = self._jobs.get_outbox_event(job.job_id, message.event_id)
        return self._render(event, job) if event is not None else None

    def _decide(self, result: DeliveryResult, attempt_number: int) -> DeliveryDecision:
        status = result.status_code
        if status is not None and 200 <= status < 300:
            return DeliveryDecision(DeliveryOutcome.DELIVERED, result=result)
        if status == GONE:
            return DeliveryDecision(DeliveryOutcome.STOPPED, result=result)
        if attempt_number >= len(self._schedule):
            return DeliveryDecision(DeliveryOutcome.EXHAUSTED, result=result, reason=result.error)
        return DeliveryDecision(
            DeliveryOutcome.RETRYING,
            retry_in_s=retry_delay_s(self._schedule[attempt_number], uniform=self._jitter),
            result=result,
            reason=result.error,
        )

    def _exhaust(
        self, message: WebhookMessage, job: Job, url: str, attempts: int, result: DeliveryResult
    ) -> None:
        reason = f"{attempts} attempts failed; last: {result.error or result.status_code}"
        self._dead_letters.dead_letter(message, reason=reason)
        publish_on(
            self._channels,
            Notification(
                id=exhausted_event_id(message.event_id),
                type=EventType.WEBHOOK_EXHAUSTED,
                timestamp=self._clock(),
                data=WebhookExhaustedData(
                    job_id=job.job_id,
                    tenant_id=job.tenant_id,
                    event_id=message.event_id,
                    event_type=message.type,
                    callback_url=url,
                    attempts=attempts,
                    last_status_code=result.status_code,
                    last_error=result.error,
                ),
            ),
            job,
        )
