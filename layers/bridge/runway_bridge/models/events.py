"""Every event type the bridge announces, declared once (no I/O; listed in docs/events.md).

The outbox, the notifications, the relay's channels, the webhook test endpoint and the `events`
field of a job all name their types from `EventType`; `EVENT_SOURCE` and the rejection detail-type
are what the bridge's own entries on its EventBridge bus carry.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from runway_bridge.models.job import JobStatus

# `source` of every entry the bridge puts on its bus.
EVENT_SOURCE: Final = "runway-bridge"
# Detail-type of the entry published for an invalid "Generation Requested" event.
GENERATION_REJECTED: Final = "Generation Rejected"


class EventType(StrEnum):
    TASK_SUCCEEDED = "task.succeeded"
    TASK_FAILED = "task.failed"
    TASK_CANCELLED = "task.cancelled"
    TASK_TIMED_OUT = "task.timed_out"
    TASK_SUBMISSION_UNKNOWN = "task.submission_unknown"
    TASK_PROGRESS = "task.progress"  # webhooks only, when the job's callback asked for it
    WEBHOOK_EXHAUSTED = "webhook.exhausted"  # a webhook's retry schedule ran out (for operators)
    WEBHOOK_TEST = "webhook.test"  # POST /v1/webhooks/test, to the URL given only

    @property
    def detail_type(self) -> str:
        """Its EventBridge detail-type (rules match on these)."""
        return _DETAIL_TYPES[self]

    @property
    def is_outcome(self) -> bool:
        """Announces a job's terminal status (written to the outbox with it)."""
        return self in OUTCOME_EVENT_TYPES.values()

    @property
    def broadcast(self) -> bool:
        """Published on the SNS topic and the EventBridge bus: outcomes and `webhook.exhausted`
        (progress steps and test events go to a webhook URL only)."""
        return self.is_outcome or self is EventType.WEBHOOK_EXHAUSTED


_DETAIL_TYPES: Final[dict[EventType, str]] = {
    EventType.TASK_SUCCEEDED: "Task Succeeded",
    EventType.TASK_FAILED: "Task Failed",
    EventType.TASK_CANCELLED: "Task Cancelled",
    EventType.TASK_TIMED_OUT: "Task Timed Out",
    EventType.TASK_SUBMISSION_UNKNOWN: "Task Submission Unknown",
    EventType.TASK_PROGRESS: "Task Progress",
    EventType.WEBHOOK_EXHAUSTED: "Webhook Exhausted",
    EventType.WEBHOOK_TEST: "Webhook Test",
}

# The event written to the outbox with each terminal status.
OUTCOME_EVENT_TYPES: Final[dict[JobStatus, EventType]] = {
    JobStatus.SUCCEEDED: EventType.TASK_SUCCEEDED,
    JobStatus.FAILED: EventType.TASK_FAILED,
    JobStatus.CANCELLED: EventType.TASK_CANCELLED,
    JobStatus.TIMED_OUT: EventType.TASK_TIMED_OUT,
    JobStatus.SUBMISSION_UNKNOWN: EventType.TASK_SUBMISSION_UNKNOWN,
}

# What a callback gets when its job does not name `events`: every outcome, no progress.
DEFAULT_CALLBACK_EVENT_TYPES: Final = frozenset(OUTCOME_EVENT_TYPES.values())
# What a job's `events` field may name.
CALLBACK_EVENT_TYPES: Final = DEFAULT_CALLBACK_EVENT_TYPES | {EventType.TASK_PROGRESS}
