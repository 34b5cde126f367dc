"""The outbox relay (every event out once on the channels, a webhook when the callback wants it) and
webhook delivery decisions (delivered, retried on schedule, stopped by 410, exhausted)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from runway_bridge.adapters.notifications.channels import WebhookQueueChannel
from runway_bridge.adapters.notifications.webhook_sender import answer_excerpt
from runway_bridge.logic.notifications.delivery import DeliveryOutcome, WebhookDelivery
from runway_bridge.logic.notifications.relay import NotificationRelay
from runway_bridge.logic.notifications.signing import signature
from runway_bridge.logic.ports import NotificationChannel
from runway_bridge.models.events import EventType
from runway_bridge.models.job import Job, JobStatus, StoredBridgeFields
from runway_bridge.models.notification import WebhookMessage
from runway_bridge.models.records import DeliveryResult
from tests.unit.builders import ending, new_job
from tests.unit.fakes import (
    FakeClock,
    FakeJobStore,
    FakeTenantSecrets,
    RecordingChannel,
    RecordingDeadLetters,
    RecordingWebhookQueue,
    ScriptedWebhookSender,
)

HOOK = "https://hooks.example.com/runway"
SCHEDULE = (0.0, 5.0, 300.0)


class World:
    def __init__(self) -> None:
        self.clock = FakeClock()
        self.jobs = FakeJobStore()
        self.publisher = RecordingChannel()
        self.queue = RecordingWebhookQueue()
        self.secrets = FakeTenantSecrets()
        self.sender = ScriptedWebhookSender()
        self.dead = RecordingDeadLetters()
        # The broadcast channels (as SNS and EventBridge take them) and the real webhook channel.
        self.channels: list[NotificationChannel] = [self.publisher, WebhookQueueChannel(self.queue)]
        self.relay = NotificationRelay(
            store=self.jobs,
            channels=self.channels,
            outputs=lambda job: [],
            clock=self.clock,
        )
        self.delivery = WebhookDelivery(
            jobs=self.jobs,
            attempts=self.jobs,
            secrets=self.secrets,
            sender=self.sender,
            channels=self.channels,
            dead_letters=self.dead,
            render=self.relay.render,
            schedule_s=SCHEDULE,
            clock=self.clock,
            jitter=lambda low, high: low,  # the schedule exactly (tests/unit/test_retry.py has the spread)
        )

    def finished(
        self, *, callback: str | None = HOOK, events: list[str] | None = None
    ) -> tuple[Job, WebhookMessage]:
        job = new_job(
            "tenant-a",
            status=JobStatus.RUNNING,
            runway_task_id="t-1",
            bridge=StoredBridgeFields(callback_url=callback, events=events),
        )
        self.jobs.create(job)
        self.secrets.ensure_webhook_secret("tenant-a")
        ended = self.jobs.transition(job, JobStatus.FAILED, **ending(job, JobStatus.FAILED))
        [event] = self.jobs.outbox_events(job.job_id)
        message = WebhookMessage(
            event_id=event.event_id, job_id=job.job_id, tenant_id="tenant-a", type=event.type
        )
        return ended, message


@pytest.fixture
def w() -> World:
    return World()


# --- the relay ---------------------------------------------------------------------------------


def test_an_event_is_published_queued_for_the_webhook_and_marked(w: World) -> None:
    job, _ = w.finished()
    [event] = w.jobs.outbox_events(job.job_id)
    w.relay.publish_event(event)
    assert [n.id for n in w.publisher.published] == [event.event_id]
    assert [(m.event_id, m.type) for m, _ in w.queue.messages] == [(event.event_id, "task.failed")]
    assert w.jobs.published_at(event) == w.clock()


def test_no_webhook_without_a_callback_or_for_an_event_it_did_not_ask_for(w: World) -> None:
    for job, _ in (w.finished(callback=None), w.finished(events=["task.succeeded"])):
        [event] = w.jobs.outbox_events(job.job_id)
        w.relay.publish_event(event)
    assert len(w.publisher.published) == 2
    assert w.queue.messages == []


def test_an_event_a_channel_refused_stays_pending_for_the_sweep(w: World) -> None:
    job, _ = w.finished()
    [event] = w.jobs.outbox_events(job.job_id)
    w.publisher.refuse = True
    with pytest.raises(Exception, match="refused"):
        w.relay.publish_event(event)
    assert w.jobs.published_at(event) is None
    w.clock.advance(120)
    assert w.relay.sweep().failed == 1
    w.publisher.refuse = False
    assert w.relay.sweep().published == 1
    assert w.jobs.published_at(event) is not None
    assert w.relay.sweep().published == 0


def test_progress_goes_only_to_callbacks_that_asked(w: World) -> None:
    asked = new_job(
        status=JobStatus.RUNNING, bridge=StoredBridgeFields(callback_url=HOOK, events=["task.progress"])
    )
    silent = new_job(status=JobStatus.RUNNING, bridge=StoredBridgeFields(callback_url=HOOK))
    assert w.relay.publish_progress(asked) is not None
    assert w.relay.publish_progress(silent) is None
    [(message, _)] = w.queue.messages
    assert (message.job_id, message.type) == (asked.job_id, "task.progress")
    assert w.publisher.published == []  # progress is webhook-only


# --- webhook delivery ----------------------------------------------------------------------------


def test_a_2xx_is_delivered_signed_and_recorded(w: World) -> None:
    job, message = w.finished()
    decision = w.delivery.deliver(message, 1)
    assert decision.outcome is DeliveryOutcome.DELIVERED
    [(url, headers, body)] = w.sender.sent
    assert url == HOOK
    assert headers["webhook-id"] == message.event_id
    secret = w.secrets.webhook_secret("tenant-a")
    timestamp = int(headers["webhook-timestamp"])
    assert headers["webhook-signature"] == signature(secret, message.event_id, timestamp, body)
    assert [a.outcome for a in w.jobs.attempts(job.job_id)] == ["delivered"]


def test_failures_are_retried_on_schedule_then_exhausted(w: World) -> None:
    job, message = w.finished()
    w.sender.answers = [DeliveryResult(status_code=500, latency_ms=3)] * 2 + [
        DeliveryResult(status_code=None, latency_ms=3000, error="timed out", timed_out=True)
    ]
    decisions = []
    for number in (1, 2, 3):
        decisions.append(w.delivery.deliver(message, number))
        w.clock.advance(1)
    assert [d.outcome for d in decisions] == [
        DeliveryOutcome.RETRYING,
        DeliveryOutcome.RETRYING,
        DeliveryOutcome.EXHAUSTED,
    ]
    assert [d.retry_in_s for d in decisions[:2]] == [5.0, 300.0]
    assert [m.event_id for m, _ in w.dead.messages] == [message.event_id]
    assert [n.type for n in w.publisher.published] == [EventType.WEBHOOK_EXHAUSTED]
    assert [a.number for a in w.jobs.attempts(job.job_id)] == [1, 2, 3]


def test_a_410_stops_this_job_s_webhooks_for_good(w: World) -> None:
    _job, message = w.finished()
    w.sender.answers = [DeliveryResult(status_code=410, latency_ms=3)]
    assert w.delivery.deliver(message, 1).outcome is DeliveryOutcome.STOPPED
    w.clock.advance(timedelta(minutes=1).total_seconds())
    assert w.delivery.deliver(message, 2).outcome is DeliveryOutcome.SKIPPED
    assert len(w.sender.sent) == 1


def test_a_deleted_job_has_nothing_to_deliver(w: World) -> None:
    job, message = w.finished()
    w.jobs.delete(job)
    assert w.delivery.deliver(message, 1).outcome is DeliveryOutcome.SKIPPED
    assert w.sender.sent == []


def test_during_a_rotation_both_secrets_sign(w: World) -> None:
    _, message = w.finished()
    old = w.secrets.webhook_secret("tenant-a")
    new = w.secrets.rotate_webhook_secret("tenant-a")
    w.delivery.deliver(message, 1)
    [(_, headers, body)] = w.sender.sent
    timestamp = int(headers["webhook-timestamp"])
    assert headers["webhook-signature"].split(" ") == [
        signature(new, message.event_id, timestamp, body),
        signature(old, message.event_id, timestamp, body),
    ]


def test_an_attempt_keeps_the_receivers_answer_excerpt(w: World) -> None:
    job, message = w.finished()
    w.sender.answers = [DeliveryResult(status_code=422, latency_ms=4, answer_excerpt='{"error":"bad sig"}')]
    w.delivery.deliver(message, 1)
    assert [a.answer_excerpt for a in w.jobs.attempts(job.job_id)] == ['{"error":"bad sig"}']


@pytest.mark.parametrize(
    ("head", "excerpt"),
    [
        (b"ok", "ok"),
        (b"", None),
        (b"\x00\x1b\x07", None),
        (b"line 1\r\nline\t2\x00\x1b[31m!", "line 1  line 2[31m!"),
        ("a\u202eb\u200bc".encode(), "abc"),  # bidirectional override and zero-width space removed
        (b"caf\xc3", "caf\ufffd"),  # a character cut by the cap, or not UTF-8 at all
    ],
)
def test_an_answer_excerpt_is_text_safe_to_show(head: bytes, excerpt: str | None) -> None:
    assert answer_excerpt(head) == excerpt
