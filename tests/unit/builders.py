"""Jobs and requests for unit tests."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from runway_bridge.models.job import Job, JobStatus
from runway_bridge.models.outbox import terminal_event
from runway_bridge.models.tenant import UsageCharge
from tests.unit.fakes.clock import T0

TEXT_TO_VIDEO: dict[str, Any] = {"model": "gen4.5", "promptText": "a lighthouse at dusk", "ratio": "1280:720"}


def new_job(
    tenant: str = "tenant-a", *, status: JobStatus = JobStatus.QUEUED, minute: int = 0, **fields: Any
) -> Job:
    created = T0 + timedelta(minutes=minute)
    values: dict[str, Any] = {
        "job_id": str(uuid.uuid4()),
        "tenant_id": tenant,
        "operation": "text_to_video",
        "model": "gen4.5",
        "status": status,
        "created_at": created,
        "updated_at": created,
        "request_hash": "h",
        "request_body": TEXT_TO_VIDEO,
        "next_poll_at": created.timestamp(),
    }
    values.update(fields)
    return Job(**values)


def charge(day: str = "2026-11-23", seconds: int = 5, credits: float = 0.0) -> UsageCharge:
    return UsageCharge(day=day, output_seconds=seconds, credits=credits)


def ending(job: Job, status: JobStatus) -> dict[str, Any]:
    """Keyword arguments of `transition` that end `job` with `status` (changes + its event)."""
    changes = {"updated_at": job.updated_at + timedelta(seconds=1)}
    future = job.model_copy(update={**changes, "status": status})
    return {"changes": changes, "event": terminal_event(future)}
