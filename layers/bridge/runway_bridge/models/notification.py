"""What the bridge announces (no I/O): the versioned notification every channel carries.

One notification per outbox event (and per progress step a callback asked for). The same JSON object
is the webhook body, the SNS message and the EventBridge `detail`, so a consumer parses one schema
whichever channel it listens on (docs/events.md; `notification_json_schema()` is the machine form).
Its `id` is the outbox event id: stable across channels and redeliveries, so receivers dedupe on it.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from runway_bridge.models.events import DEFAULT_CALLBACK_EVENT_TYPES, EVENT_SOURCE, EventType
from runway_bridge.models.job import Job
from runway_bridge.models.outbox import OutboxEvent

SCHEMA_VERSION: Final = 1

# SNS messages and EventBridge entries are capped at 256 KB (SQS messages too, which carry progress
# notifications inline). The notification JSON stays under this, which leaves room for the rest of
# an entry (SNS attributes, EventBridge source and detail-type, the SQS message's own fields).
NOTIFICATION_MAX_BYTES: Final = 240 * 1024
# When a notification is too big, long strings in its `data` (e.g. a long Runway failure message)
# are cut to this many characters first.
TRIMMED_TEXT_MAX_CHARS: Final = 1024
_TRIM_MARK: Final = "…"

_DERIVED_NAMESPACE: Final = uuid.UUID("5b3f1c8e-7d2a-4e69-a0c4-93e1f6b2d871")


def callback_wants(job: Job, event_type: EventType) -> bool:
    """Does the job's callback want this event type? (`events` unset: every outcome.)"""
    if not job.bridge.callback_url:
        return False
    wanted = set(job.bridge.events) if job.bridge.events else DEFAULT_CALLBACK_EVENT_TYPES
    return event_type in wanted


def progress_event_id(job_id: str, version: int) -> str:
    """Stable id of the progress notification for one stored version of a job."""
    return str(uuid.uuid5(_DERIVED_NAMESPACE, f"{job_id}\n{EventType.TASK_PROGRESS}\n{version}"))


def exhausted_event_id(event_id: str) -> str:
    """Stable id of the `webhook.exhausted` notification about one event's delivery."""
    return str(uuid.uuid5(_DERIVED_NAMESPACE, f"{EventType.WEBHOOK_EXHAUSTED}\n{event_id}"))


class NotificationOutput(BaseModel):
    """One output of a finished job, in three lasting-ness levels."""

    model_config = ConfigDict(populate_by_name=True)

    index: int
    s3_uri: str = Field(alias="s3Uri")
    # Presigned GET of the S3 object: works anywhere, dies at `urlExpiresAt` (or with the role session).
    url: str | None = None
    url_expires_at: datetime | None = Field(default=None, alias="urlExpiresAt")
    # Bridge-signed link that redirects to a fresh presign each time (until `linkExpiresAt`).
    link: str | None = None
    link_expires_at: datetime | None = Field(default=None, alias="linkExpiresAt")
    content_type: str = Field(alias="contentType")
    size: int
    sha256: str


class TaskEventData(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    job_id: str = Field(alias="jobId")
    tenant_id: str = Field(alias="tenantId")
    runway_task_id: str | None = Field(default=None, alias="runwayTaskId")
    operation: str
    model: str
    status: str
    progress: float | None = None
    outputs: list[NotificationOutput] = Field(default_factory=list)
    failure: str | None = None
    failure_code: str | None = Field(default=None, alias="failureCode")
    reference: str | None = None
    metadata: dict[str, str] | None = None
    created_at: datetime | None = Field(default=None, alias="createdAt")
    updated_at: datetime | None = Field(default=None, alias="updatedAt")


class WebhookExhaustedData(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    job_id: str = Field(alias="jobId")
    tenant_id: str = Field(alias="tenantId")
    # The event whose webhook could not be delivered.
    event_id: str = Field(alias="eventId")
    event_type: EventType = Field(alias="eventType")
    callback_url: str = Field(alias="callbackUrl")
    attempts: int
    last_status_code: int | None = Field(default=None, alias="lastStatusCode")
    last_error: str | None = Field(default=None, alias="lastError")


class Notification(BaseModel):
    """The envelope (Standard Webhooks shape: type, timestamp, data; plus id and schema version)."""

    model_config = ConfigDict(populate_by_name=True)

    id: str
    type: EventType
    timestamp: datetime
    schema_version: Literal[1] = Field(default=SCHEMA_VERSION, alias="schemaVersion")
    source: str = EVENT_SOURCE
    # True when parts of `data` were cut or left out so the notification fits every channel; the full
    # job is at `GET /v1/tasks/{jobId}`.
    truncated: bool = False
    data: TaskEventData | WebhookExhaustedData | dict[str, Any]

    @property
    def detail_type(self) -> str:
        return self.type.detail_type

    def to_json_dict(self) -> dict[str, Any]:
        """The wire form every channel sends: trimmed to fit `NOTIFICATION_MAX_BYTES`."""
        return fit_to_channels(self.model_dump(mode="json", by_alias=True))

    def to_json_bytes(self) -> bytes:
        """The exact body sent (webhook body, SNS message, EventBridge detail)."""
        return wire_json(self.to_json_dict())

    def attributes(self) -> dict[str, str]:
        """SNS message attributes (filter policies match on these): type, status, operation, model."""
        data = self.data
        attributes = {"type": self.type.value}
        if isinstance(data, TaskEventData):
            attributes |= {"status": data.status, "operation": data.operation, "model": data.model}
        return attributes


def wire_json(document: dict[str, Any]) -> bytes:
    # ASCII-escaped like the JSON the SDKs send, so the size measured is the size on the wire.
    return json.dumps(document, separators=(",", ":")).encode()


def fit_to_channels(document: dict[str, Any], max_bytes: int = NOTIFICATION_MAX_BYTES) -> dict[str, Any]:
    """`document` (a notification's JSON) unchanged when it fits in `max_bytes`, else trimmed and
    marked `truncated: true`, in this order until it fits: long strings of `data` (failure messages,
    errors) cut to `TRIMMED_TEXT_MAX_CHARS`, `metadata` left out, then outputs from the last one, and
    finally every `data` entry bigger than the cut size. Ids, type, status and the envelope always stay."""
    if len(wire_json(document)) <= max_bytes:
        return document
    data = dict(document.get("data") or {})
    trimmed = {**document, "truncated": True, "data": data}
    for key, value in data.items():
        if isinstance(value, str) and len(value) > TRIMMED_TEXT_MAX_CHARS:
            data[key] = value[:TRIMMED_TEXT_MAX_CHARS] + _TRIM_MARK
    if len(wire_json(trimmed)) <= max_bytes:
        return trimmed
    if data.get("metadata") is not None:
        data["metadata"] = None
        if len(wire_json(trimmed)) <= max_bytes:
            return trimmed
    outputs = data.get("outputs")
    if isinstance(outputs, list) and outputs:
        data["outputs"] = []
        room = max_bytes - len(wire_json(trimmed))
        kept: list[Any] = []
        for output in outputs:
            room -= len(wire_json(output)) + (1 if kept else 0)  # and its comma
            if room < 0:
                break
            kept.append(output)
        data["outputs"] = kept
        if len(wire_json(trimmed)) <= max_bytes:
            return trimmed
    for key, value in list(data.items()):
        if len(wire_json({"v": value})) > TRIMMED_TEXT_MAX_CHARS:
            data[key] = [] if isinstance(value, list) else None
    return trimmed


def task_notification(event: OutboxEvent, outputs: list[NotificationOutput]) -> Notification:
    """The notification of one outbox event; `outputs` carry links made at publish time."""
    payload = event.payload
    data = TaskEventData(
        job_id=event.job_id,
        tenant_id=event.tenant_id,
        runway_task_id=payload.get("runwayTaskId"),
        operation=payload.get("operation", ""),
        model=payload.get("model", ""),
        status=payload.get("status", ""),
        progress=payload.get("progress"),
        outputs=outputs,
        failure=payload.get("failure"),
        failure_code=payload.get("failureCode"),
        reference=payload.get("reference"),
        metadata=payload.get("metadata"),
        created_at=payload.get("createdAt"),
        updated_at=payload.get("updatedAt"),
    )
    return Notification(id=event.event_id, type=event.type, timestamp=event.created_at, data=data)


class WebhookMessage(BaseModel):
    """Body of a webhook-queue message: which event of which job to deliver. The deliverer renders
    the body at each attempt (fresh presigned URLs), under the same `webhook-id` (= `eventId`)."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    event_id: str = Field(alias="eventId", min_length=1, max_length=64)
    job_id: str = Field(alias="jobId", min_length=1, max_length=128)
    tenant_id: str = Field(alias="tenantId", min_length=1, max_length=128)
    type: EventType
    # Progress notifications have no outbox item: their rendered notification travels inline.
    notification: dict[str, Any] | None = None


def notification_json_schema() -> dict[str, Any]:
    """The published JSON Schema of `Notification` (docs/events.md embeds it; a test keeps them equal)."""
    return Notification.model_json_schema(by_alias=True, mode="serialization")
