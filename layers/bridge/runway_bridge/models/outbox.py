"""Outbox events (no I/O): what a terminal status change announces, and submit rejections.

An outbox event is written in the same DynamoDB transaction as the terminal status it announces
(docs/job-model.md), with a stable id so every relay and receiver can deduplicate it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, model_validator

from runway_bridge.models.events import OUTCOME_EVENT_TYPES, EventType
from runway_bridge.models.job import Job, JobStatus
from runway_bridge.models.limits import check_value_depth

_EVENT_NAMESPACE: Final = uuid.UUID("0c7d2a3e-8f61-4c55-b1b0-6a8e2f4d9c17")


def event_id_for(job_id: str, event_type: str) -> str:
    """Stable: the same job and type always give the same id (receivers dedupe on it)."""
    return str(uuid.uuid5(_EVENT_NAMESPACE, f"{job_id}\n{event_type}"))


class OutboxEvent(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    event_id: str = Field(alias="eventId")
    type: EventType
    job_id: str = Field(alias="jobId")
    tenant_id: str = Field(alias="tenantId")
    created_at: datetime = Field(alias="createdAt")
    payload: dict[str, Any]


def job_event_payload(job: Job) -> dict[str, Any]:
    """What notifications carry about a job (no request body, no secrets)."""
    return {
        "jobId": job.job_id,
        "status": job.status.value,
        "progress": job.progress,
        "operation": job.operation,
        "model": job.model,
        "runwayTaskId": job.runway_task_id,
        "reference": job.bridge.reference,
        "metadata": job.bridge.metadata,
        "failure": job.failure,
        "failureCode": job.failure_code,
        "outputs": [output.model_dump(mode="json", by_alias=True) for output in job.outputs],
        "createdAt": job.created_at.isoformat(),
        "updatedAt": job.updated_at.isoformat(),
    }


def terminal_event(job: Job) -> OutboxEvent:
    """The outbox event announcing `job`'s terminal status (the job as it will be stored)."""
    if job.status not in OUTCOME_EVENT_TYPES:
        raise ValueError(f"{job.status} is not terminal")
    event_type = OUTCOME_EVENT_TYPES[JobStatus(job.status)]
    return OutboxEvent(
        event_id=event_id_for(job.job_id, event_type),
        type=event_type,
        job_id=job.job_id,
        tenant_id=job.tenant_id,
        created_at=job.updated_at,
        payload=job_event_payload(job),
    )


class GenerationRequestedDetail(BaseModel):
    """`detail` of a "Generation Requested" event on the bridge's bus.

    `body` is what an HTTP caller would POST (Runway body plus bridge fields, e.g. `reference`).
    Without `idempotencyKey` the event id is the key, so a redelivered event maps to the same job.
    """

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    tenant_id: str = Field(alias="tenantId", min_length=1, max_length=128)
    operation: str = Field(min_length=1, max_length=64)
    body: dict[str, Any]
    idempotency_key: str | None = Field(default=None, alias="idempotencyKey", min_length=1, max_length=255)

    @model_validator(mode="before")
    @classmethod
    def _not_too_deep(cls, detail: Any) -> Any:
        # The same nesting cap as an HTTP body, checked before anything recurses into the detail.
        check_value_depth(detail)
        return detail


class GenerationRejectedDetail(BaseModel):
    """`detail` of the "Generation Rejected" event published for an invalid request event."""

    model_config = ConfigDict(populate_by_name=True)

    source_event_id: str = Field(alias="sourceEventId")
    tenant_id: str | None = Field(default=None, alias="tenantId")
    reference: str | None = None
    code: str
    reason: str
