"""The outbox relay: every outbox event becomes one notification, handed to every channel (the SNS
topic, the EventBridge bus, the webhook queue when the job has a callback that wants it; the list is
wired in wiring/notifications.py; docs/events.md, "Channels").

Triggered by the jobs table's stream (an event item inserted, or a job's progress changed) and, as a
safety net, by a periodic sweep of events still pending. At least once: the event is marked published
only after every channel took it, so a crash or a refusal in between publishes it again (on every
channel) and receivers dedupe on its id.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from runway_bridge.logic.ports import Clock, NotificationChannel, ObjectStore
from runway_bridge.models.events import EventType
from runway_bridge.models.job import Job, JobOutput
from runway_bridge.models.notification import (
    Notification,
    NotificationOutput,
    TaskEventData,
    callback_wants,
    progress_event_id,
    task_notification,
)
from runway_bridge.models.outbox import OutboxEvent, job_event_payload
from runway_bridge.models.records import StreamChange
from runway_bridge.observability import logger


class RelayStore(Protocol):
    def get(self, job_id: str) -> Job | None: ...

    def get_outbox_event(self, job_id: str, event_id: str) -> OutboxEvent | None: ...

    def mark_published(self, event: OutboxEvent, *, at: datetime) -> None: ...

    def pending_events(self, *, created_before: datetime, limit: int) -> list[OutboxEvent]: ...

    def stream_change(self, record: Mapping[str, Any]) -> StreamChange | None:
        """What a record of the table's stream (its raw JSON) means to the relay, None if nothing."""
        ...


def publish_on(channels: Sequence[NotificationChannel], notification: Notification, job: Job | None) -> None:
    """Hand `notification` to every channel, in order; the first refusal raises (the caller hands it
    over again later, to every channel: at least once)."""
    for channel in channels:
        channel.publish(notification, job)


# job outputs -> what a notification shows of them (presigned URL, stable link)
OutputRenderer = Callable[[Job], list[NotificationOutput]]


@dataclass(frozen=True)
class PresignedOutputs:
    """Outputs with a presigned URL (and a stable bridge link when a link maker is configured)."""

    objects: ObjectStore
    clock: Clock
    url_ttl_s: int
    link_for: Callable[[Job, JobOutput], tuple[str, datetime]] | None = None

    def __call__(self, job: Job) -> list[NotificationOutput]:
        now = self.clock()
        rendered = []
        for output in job.outputs:
            link = self.link_for(job, output) if self.link_for else None
            rendered.append(
                NotificationOutput(
                    index=output.index,
                    s3_uri=output.s3_uri,
                    url=self.objects.presigned_url(output.s3_uri, expires_in_s=self.url_ttl_s),
                    url_expires_at=now + timedelta(seconds=self.url_ttl_s),
                    link=link[0] if link else None,
                    link_expires_at=link[1] if link else None,
                    content_type=output.content_type,
                    size=output.size,
                    sha256=output.sha256,
                )
            )
        return rendered


@dataclass(frozen=True)
class RelayedChange:
    """What the relay did with one stream record."""

    published: Notification | None = None  # an outbox event's notification, handed to every channel
    progress: Notification | None = None  # a progress notification, handed to every channel


@dataclass(frozen=True)
class SweepResult:
    published: int
    failed: int  # events that could not be published this time (they stay pending for the next sweep)


class NotificationRelay:
    def __init__(
        self,
        *,
        store: RelayStore,
        channels: Sequence[NotificationChannel],
        outputs: OutputRenderer,
        clock: Clock,
        sweep_after_s: float = 60.0,
    ) -> None:
        self._store = store
        self._channels = tuple(channels)
        self._outputs = outputs
        self._clock = clock
        self._sweep_after = timedelta(seconds=sweep_after_s)

    def render(self, event: OutboxEvent, job: Job | None) -> Notification:
        """The notification of an outbox event, with output links made now (they expire)."""
        outputs = self._outputs(job) if job is not None else []
        return task_notification(event, outputs)

    def relay_stream_record(self, record: Mapping[str, Any]) -> RelayedChange:
        """One record of the jobs table's stream (its raw JSON): an inserted outbox event is
        published, a job whose progress changed becomes a progress notification; anything else is
        ignored."""
        change = self._store.stream_change(record)
        if change is None:
            return RelayedChange()
        if change.event is not None:
            return RelayedChange(published=self.publish_event(change.event))
        if change.progressed is not None:
            return RelayedChange(progress=self.publish_progress(change.progressed))
        return RelayedChange()

    def publish_event(self, event: OutboxEvent) -> Notification:
        job = self._store.get(event.job_id)
        notification = self.render(event, job)
        publish_on(self._channels, notification, job)
        self._store.mark_published(event, at=self._clock())
        return notification

    def publish_progress(self, job: Job) -> Notification | None:
        """A progress step of a job whose callback asked for `task.progress`, handed to every channel
        (the webhook queue takes it; SNS and EventBridge consumers get outcomes, not every step).
        None when the job is finished or its callback did not ask."""
        if job.is_terminal or not callback_wants(job, EventType.TASK_PROGRESS):
            return None
        payload = job_event_payload(job)
        notification = Notification(
            id=progress_event_id(job.job_id, job.version),
            type=EventType.TASK_PROGRESS,
            timestamp=job.updated_at,
            data=TaskEventData.model_validate(
                {**payload, "tenantId": job.tenant_id, "progress": job.progress}
            ),
        )
        publish_on(self._channels, notification, job)
        return notification

    def sweep(self, *, limit: int = 100) -> SweepResult:
        """Publish events still pending a while after they were written (a lost or failed stream
        record). One event that cannot be published (a channel refuses it, its job cannot be read)
        does not hold back the others, of any tenant: it is logged, counted and left pending."""
        pending = self._store.pending_events(created_before=self._clock() - self._sweep_after, limit=limit)
        failed = 0
        for event in pending:
            try:
                self.publish_event(event)
            except Exception:  # noqa: BLE001 - whatever it is, it must not hold back the others
                failed += 1
                logger.exception(
                    "outbox event could not be published",
                    extra={"event_id": event.event_id, "job_id": event.job_id, "type": event.type},
                )
        return SweepResult(published=len(pending) - failed, failed=failed)
