"""The relay's decisions, with in-memory ports: who gets what, and when an event counts as published."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from runway_bridge.adapters.notifications.channels import WebhookQueueChannel
from runway_bridge.errors import StoreUnavailableError
from runway_bridge.logic.notifications.relay import NotificationRelay
from runway_bridge.models.job import BridgeFields, Job, JobOutput, JobStatus
from runway_bridge.models.notification import Notification, NotificationOutput, WebhookMessage
from runway_bridge.models.outbox import OutboxEvent, terminal_event
from runway_bridge.models.records import StreamChange

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def a_job(status: JobStatus = JobStatus.SUCCEEDED, **bridge: Any) -> Job:
    return Job(
        job_id="job-1",
        tenant_id="acme",
        operation="text_to_video",
        model="gen4.5",
        status=status,
        created_at=NOW,
        updated_at=NOW,
        request_hash="h",
        bridge=BridgeFields(**bridge),
        outputs=[
            JobOutput(
                index=0, s3_uri="s3://b/outputs/job-1/0.mp4", sha256="ab", content_type="video/mp4", size=3
            )
        ],
        progress=0.4 if status is JobStatus.RUNNING else 1.0,
        version=7,
    )


class Fakes:
    def __init__(self, job: Job, *, publish_fails: bool = False) -> None:
        self.job = job
        self.published: list[Notification] = []
        self.queued: list[WebhookMessage] = []
        self.marked: list[str] = []
        self.pending: list[OutboxEvent] = []
        self.publish_fails = publish_fails

    # RelayStore
    def get(self, job_id: str) -> Job | None:
        return self.job if job_id == self.job.job_id else None

    def get_outbox_event(self, job_id: str, event_id: str) -> OutboxEvent | None:
        return None

    def mark_published(self, event: OutboxEvent, *, at: datetime) -> None:
        self.marked.append(event.event_id)

    def pending_events(self, *, created_before: datetime, limit: int) -> list[OutboxEvent]:
        return [event for event in self.pending if event.created_at < created_before][:limit]

    def stream_change(self, record: Mapping[str, Any]) -> StreamChange | None:
        return None

    # NotificationChannel standing in for SNS and EventBridge (which take what `broadcast` says)
    def publish(self, notification: Notification, job: Job | None) -> None:
        if not notification.type.broadcast:
            return
        if self.publish_fails:
            raise StoreUnavailableError("SNS down")
        self.published.append(notification)

    # WebhookQueue, behind the real webhook channel

    def enqueue(self, message: WebhookMessage, *, delay_s: int = 0) -> None:
        self.queued.append(message)


def relay_for(fakes: Fakes) -> NotificationRelay:
    def outputs(job: Job) -> list[NotificationOutput]:
        return [
            NotificationOutput(
                index=o.index,
                s3_uri=o.s3_uri,
                url="https://presigned",
                content_type=o.content_type,
                size=o.size,
                sha256=o.sha256,
            )
            for o in job.outputs
        ]

    return NotificationRelay(
        store=fakes, channels=[fakes, WebhookQueueChannel(fakes)], outputs=outputs, clock=lambda: NOW
    )


def test_an_event_is_published_and_queued_for_the_callback_then_marked() -> None:
    fakes = Fakes(a_job(callback_url="https://hooks.example.com/x"))
    event = terminal_event(fakes.job)
    notification = relay_for(fakes).publish_event(event)
    assert [n.id for n in fakes.published] == [event.event_id]
    assert notification.attributes() == {
        "type": "task.succeeded",
        "status": "SUCCEEDED",
        "operation": "text_to_video",
        "model": "gen4.5",
    }
    assert [(m.event_id, m.type) for m in fakes.queued] == [(event.event_id, "task.succeeded")]
    assert fakes.marked == [event.event_id]


def test_no_callback_means_no_webhook_and_an_unwanted_type_is_not_queued() -> None:
    without = Fakes(a_job())
    relay_for(without).publish_event(terminal_event(without.job))
    assert without.queued == []
    assert len(without.published) == 1
    only_failures = Fakes(a_job(callback_url="https://hooks.example.com/x", events=["task.failed"]))
    relay_for(only_failures).publish_event(terminal_event(only_failures.job))
    assert only_failures.queued == []


def test_an_event_whose_publish_failed_stays_pending() -> None:
    fakes = Fakes(a_job(callback_url="https://hooks.example.com/x"), publish_fails=True)
    with pytest.raises(StoreUnavailableError):
        relay_for(fakes).publish_event(terminal_event(fakes.job))
    assert fakes.marked == []
    assert fakes.queued == []


def test_the_sweep_publishes_only_events_pending_for_a_while() -> None:
    fakes = Fakes(a_job())
    old = terminal_event(fakes.job).model_copy(update={"created_at": NOW - timedelta(minutes=5)})
    fresh = old.model_copy(update={"event_id": "fresh", "created_at": NOW - timedelta(seconds=5)})
    fakes.pending = [old, fresh]
    assert relay_for(fakes).sweep().published == 1
    assert fakes.marked == [old.event_id]


def test_progress_goes_to_the_webhook_only_when_asked_with_a_stable_id_per_version() -> None:
    asked = Fakes(a_job(JobStatus.RUNNING, callback_url="https://h.example.com/x", events=["task.progress"]))
    assert relay_for(asked).publish_progress(asked.job)
    message = asked.queued[0]
    assert message.type == "task.progress"
    assert message.notification is not None
    assert message.notification["data"]["progress"] == 0.4
    assert asked.published == []  # not on SNS/EventBridge
    repeat = Fakes(asked.job)
    relay_for(repeat).publish_progress(asked.job)
    assert repeat.queued[0].event_id == message.event_id  # same job version, same id: receivers dedupe
    default_events = Fakes(a_job(JobStatus.RUNNING, callback_url="https://h.example.com/x"))
    assert not relay_for(default_events).publish_progress(default_events.job)
    assert default_events.queued == []


def test_the_sweep_goes_past_an_event_that_fails_and_counts_it() -> None:
    class OneChannelRefuses(Fakes):
        def publish(self, notification: Notification, job: Job | None) -> None:
            if notification.id == "poison":
                raise StoreUnavailableError("SNS refused it")
            super().publish(notification, job)

    fakes = OneChannelRefuses(a_job())
    first = terminal_event(fakes.job).model_copy(update={"created_at": NOW - timedelta(minutes=5)})
    poison = first.model_copy(update={"event_id": "poison"})
    after = first.model_copy(update={"event_id": "after"})
    fakes.pending = [poison, first, after]

    swept = relay_for(fakes).sweep()

    assert (swept.published, swept.failed) == (2, 1)
    assert fakes.marked == [first.event_id, "after"]  # the failing one stays pending
