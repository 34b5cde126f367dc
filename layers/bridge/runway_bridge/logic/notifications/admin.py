"""What a tenant can do about its webhooks through the API: redeliver a job's last event, send a
signed test event to a URL, redrive its dead-lettered deliveries, read and rotate its signing secret,
and follow a stable output link."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Final, Protocol

from runway_bridge.errors import InvalidRequestError, NotFoundError, StoreUnavailableError
from runway_bridge.logic.links import OutputLinkSigner
from runway_bridge.logic.notifications.delivery import WebhookDelivery
from runway_bridge.logic.ports import JobStore, TenantSecrets, WebhookQueue
from runway_bridge.models.api import DeadLetterList, DeadLetterView
from runway_bridge.models.job import Job
from runway_bridge.models.notification import WebhookMessage
from runway_bridge.models.outbox import OutboxEvent
from runway_bridge.models.records import DeadLetter, DeliveryResult, UrlChecker
from runway_bridge.observability import logger


class ConflictError(InvalidRequestError):
    http_status = 409
    default_code = "conflict"


# The only error texts `POST /v1/webhooks/test` answers with.
TEST_REFUSED: Final = "refused by the address guard"
TEST_TIMED_OUT: Final = "timed out"
TEST_CONNECTION_FAILED: Final = "connection failed"
TEST_REDIRECT: Final = "redirect not followed"
TEST_ERROR_STATUS: Final = "the receiver answered an error status"


def test_error_category(result: DeliveryResult) -> str | None:
    """A fixed category for a test delivery's failure (None when it was delivered)."""
    status = result.status_code
    if status is not None:
        if 200 <= status < 300:
            return None
        return TEST_REDIRECT if 300 <= status < 400 else TEST_ERROR_STATUS
    if result.refused:
        return TEST_REFUSED
    return TEST_TIMED_OUT if result.timed_out else TEST_CONNECTION_FAILED


class EventSource(Protocol):
    def outbox_events(self, job_id: str) -> list[OutboxEvent]: ...


class Redriver(Protocol):
    def redrive(self, tenant_id: str, *, max_messages: int = 1000) -> int: ...


class DeadLetterReader(Protocol):
    def peek(self, tenant_id: str, *, max_letters: int = 100) -> list[DeadLetter]:
        """The tenant's dead letters, oldest first; nothing moves."""
        ...


@dataclass(frozen=True)
class RotatedSecret:
    secret: str
    previous_valid_for_s: float


class WebhookAdmin:
    def __init__(
        self,
        *,
        jobs: JobStore,
        events: EventSource,
        queue: WebhookQueue | None,
        redriver: Redriver | None,
        secrets: TenantSecrets,
        delivery: WebhookDelivery,
        check_url: UrlChecker,
        links: OutputLinkSigner | None,
        presign: Callable[[str], str],
        rotation_overlap_s: float,
        dead_letters: DeadLetterReader | None = None,
    ) -> None:
        self._dead_letters = dead_letters
        self._jobs = jobs
        self._events = events
        self._queue = queue
        self._redriver = redriver
        self._secrets = secrets
        self._delivery = delivery
        self._check_url = check_url
        self._links = links
        self._presign = presign
        self._overlap_s = rotation_overlap_s

    def redeliver(self, tenant_id: str, job_id: str) -> OutboxEvent:
        """Queue the job's last event again under the same `webhook-id`."""
        job = self._job(tenant_id, job_id)
        if not job.bridge.callback_url:
            raise ConflictError("this task has no callbackUrl to deliver to")
        events = sorted(self._events.outbox_events(job_id), key=lambda event: event.created_at)
        if not events:
            raise ConflictError("this task has no event yet (it is not finished)")
        if self._queue is None:
            raise StoreUnavailableError("webhook delivery is not configured on this bridge")
        last = events[-1]
        self._queue.enqueue(
            WebhookMessage(event_id=last.event_id, job_id=job_id, tenant_id=tenant_id, type=last.type)
        )
        return last

    def send_test(self, tenant_id: str, url: str) -> DeliveryResult:
        """A signed `webhook.test` event POSTed now: the receiver's status code and the latency, and
        for a failure only its category (`test_error_category`). The URL can be any host, so the
        raw error text (addresses, TLS and socket details) would make this a probe of networks;
        it is logged for operators instead."""
        self._check_url(url)  # a refused URL is a 400 before anything is sent
        notification = self._delivery.test_notification(tenant_id, f"test-{uuid.uuid4()}")
        result = self._delivery.send(url, tenant_id, notification)
        category = test_error_category(result)
        if result.error is not None:
            logger.info(
                "test webhook failed",
                extra={"tenant_id": tenant_id, "category": category, "detail": result.error},
            )
        # No answer excerpt either: it would hand any host's answer to the caller.
        return replace(result, error=category, answer_excerpt=None)

    def redrive(self, tenant_id: str) -> int:
        if self._redriver is None:
            raise StoreUnavailableError("no webhook dead-letter queue is configured on this bridge")
        return self._redriver.redrive(tenant_id)

    def dead_letters(self, tenant_id: str) -> DeadLetterList:
        """`GET /v1/webhooks/dead-letters`: the tenant's deliveries waiting in the dead-letter queue
        (what a redrive would send), oldest first; other tenants' letters are neither shown nor
        moved."""
        if self._dead_letters is None:
            raise StoreUnavailableError("no webhook dead-letter queue is configured on this bridge")
        return DeadLetterList(
            data=[
                DeadLetterView(
                    event_id=letter.event_id,
                    job_id=letter.job_id,
                    type=letter.type,
                    reason=letter.reason,
                    dead_lettered_at=letter.dead_lettered_at,
                )
                for letter in self._dead_letters.peek(tenant_id)
            ]
        )

    def secret(self, tenant_id: str) -> str:
        return self._secrets.webhook_secret(tenant_id)

    def rotate_secret(self, tenant_id: str) -> RotatedSecret:
        return RotatedSecret(self._secrets.rotate_webhook_secret(tenant_id), self._overlap_s)

    def follow_link(self, job_id: str, index: int, expires: int, signature: str) -> str:
        """The fresh presigned URL a valid stable link redirects to."""
        if self._links is None:
            raise NotFoundError("stable output links are not configured on this bridge")
        self._links.verify(job_id, index, expires, signature)
        job = self._jobs.get(job_id)
        output = next((o for o in job.outputs if o.index == index), None) if job else None
        if output is None:
            raise NotFoundError("no such output")
        return self._presign(output.s3_uri)

    def _job(self, tenant_id: str, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None or job.tenant_id != tenant_id:
            raise NotFoundError("Task not found.")
        return job
