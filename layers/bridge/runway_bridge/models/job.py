"""The bridge's job record and its state machine (documented in docs/job-model.md). No I/O.

A job is one caller request for one Runway create. Every status change is a conditional write that
names the status it expects to replace; a terminal status never changes again.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, field_validator

from runway_bridge.models.limits import (
    METADATA_KEY_MAX_CHARS,
    METADATA_MAX_BYTES,
    METADATA_MAX_ENTRIES,
    METADATA_VALUE_MAX_CHARS,
    compact_json_size,
)
from runway_bridge.models.operations import Operation
from runway_bridge.models.tenant import OutputDestination, UsageCharge


class JobStatus(StrEnum):
    QUEUED = "QUEUED"  # recorded, not yet sent to Runway (new, or Runway answered 429: provably not accepted)
    SUBMITTING = "SUBMITTING"  # the create is in flight; a lease says until when
    PENDING = "PENDING"  # Runway accepted the task (task id recorded) and has not started it
    THROTTLED = "THROTTLED"  # Runway holds it behind the account's concurrency limit
    RUNNING = "RUNNING"  # Runway is generating (PROCESSING in the spec)
    COPYING = "COPYING"  # Runway SUCCEEDED; outputs are being copied to S3
    SUCCEEDED = "SUCCEEDED"  # outputs are in S3
    FAILED = "FAILED"  # Runway failed the task, refused the create, or the bridge could not finish it
    CANCELLED = "CANCELLED"  # cancelled by the caller (and at Runway when it had been submitted)
    TIMED_OUT = "TIMED_OUT"  # past its time limit; cancelled at Runway after one last look
    SUBMISSION_UNKNOWN = "SUBMISSION_UNKNOWN"  # the create may have reached Runway; never resent


TERMINAL: Final = frozenset(
    {
        JobStatus.SUCCEEDED,
        JobStatus.FAILED,
        JobStatus.CANCELLED,
        JobStatus.TIMED_OUT,
        JobStatus.SUBMISSION_UNKNOWN,
    }
)
AT_RUNWAY: Final = frozenset({JobStatus.PENDING, JobStatus.THROTTLED, JobStatus.RUNNING})

# Allowed transitions. Anything else is a bug or a lost race, and the conditional write refuses it.
TRANSITIONS: Final[dict[JobStatus, frozenset[JobStatus]]] = {
    JobStatus.QUEUED: frozenset({JobStatus.SUBMITTING, JobStatus.CANCELLED, JobStatus.FAILED}),
    JobStatus.SUBMITTING: frozenset(
        {
            *AT_RUNWAY,
            JobStatus.COPYING,  # a task can already be done at its first GET
            JobStatus.QUEUED,  # Runway answered 429 or the connection was refused: not accepted
            JobStatus.FAILED,  # Runway refused the body (400) or the inputs expired
            JobStatus.SUBMISSION_UNKNOWN,
        }
    ),
    JobStatus.PENDING: frozenset(
        {*AT_RUNWAY, JobStatus.COPYING, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.TIMED_OUT}
    ),
    JobStatus.THROTTLED: frozenset(
        {*AT_RUNWAY, JobStatus.COPYING, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.TIMED_OUT}
    ),
    JobStatus.RUNNING: frozenset(
        {*AT_RUNWAY, JobStatus.COPYING, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.TIMED_OUT}
    ),
    JobStatus.COPYING: frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED}),
    **{status: frozenset() for status in TERMINAL},
}


def can_transition(current: JobStatus, new: JobStatus) -> bool:
    return new in TRANSITIONS[current]


def is_terminal(status: JobStatus) -> bool:
    return status in TERMINAL


# Why a job waits QUEUED (shown in the task view's `bridge.queueReason`).
QUEUE_TENANT_IN_FLIGHT: Final = "tenant_in_flight_limit"  # its tenant's in-flight places are taken
QUEUE_TENANT_BACKLOG: Final = "tenant_queue"  # older jobs of its tenant wait before it
QUEUE_RUNWAY_BUSY: Final = "runway_busy"  # Runway holds tasks THROTTLED: its capacity is full
QUEUE_RUNWAY_RATE_LIMITED: Final = "runway_rate_limited"  # Runway answered a create with 429
QUEUE_NOT_SENT: Final = "not_sent"  # the create could not be sent yet (no budget, Runway unreachable)

# failureCode values the bridge itself assigns (Runway's own codes pass through unchanged).
BRIDGE_SUBMISSION_UNKNOWN: Final = "BRIDGE.SUBMISSION_UNKNOWN"
BRIDGE_TIMED_OUT: Final = "BRIDGE.TIMED_OUT"
BRIDGE_RUNWAY_REJECTED: Final = "BRIDGE.RUNWAY_REJECTED"
BRIDGE_INPUT_EXPIRED: Final = "BRIDGE.INPUT_EXPIRED"
# A deferred send found an s3:// input gone (or unreadable), or no longer acceptable.
BRIDGE_INPUT_MISSING: Final = "BRIDGE.INPUT_MISSING"
BRIDGE_INPUT_REFUSED: Final = "BRIDGE.INPUT_REFUSED"
BRIDGE_COPY_FAILED: Final = "BRIDGE.COPY_FAILED"

# The job id of an idempotent request is derived from (tenant, key), so a retry after a Lambda
# death lands on the same record and the conditional put refuses a second one.
_IDEMPOTENCY_NAMESPACE: Final = uuid.UUID("6f0b5c3e-2a47-4d1e-9a59-3b8f1f7f5d21")


# The fields a lease holder writes (the submitter's or a poller worker's), removed when it lets go.
LEASE_FIELDS: Final = frozenset({"lease_owner", "lease_expires_at"})


# How many status changes a job keeps (oldest dropped first), for the task view's timeline.
STATUS_HISTORY_MAX: Final = 32


class StatusChange(BaseModel):
    """One status a job entered, and when (the job's `statusHistory`)."""

    model_config = ConfigDict(populate_by_name=True)

    status: JobStatus
    at: datetime


def status_history_after(job: Job, status: JobStatus, at: datetime) -> list[StatusChange]:
    """The job's status history with `status` entered at `at` appended, capped to the newest
    STATUS_HISTORY_MAX entries. Written by the job store in the same write as the status."""
    return [*job.status_history, StatusChange(status=status, at=at)][-STATUS_HISTORY_MAX:]


def job_id_for(tenant_id: str, idempotency_key: str | None) -> str:
    if idempotency_key is None:
        return str(uuid.uuid4())
    return str(uuid.uuid5(_IDEMPOTENCY_NAMESPACE, f"{tenant_id}\n{idempotency_key}"))


def request_fingerprint(operation: str, body: dict[str, Any]) -> str:
    """Stable hash of what was asked, to tell a true retry from a key reused for another body."""
    canonical = json.dumps({"operation": operation, "body": body}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class JobOutput(BaseModel):
    index: int
    s3_uri: str = Field(alias="s3Uri")
    sha256: str
    content_type: str = Field(alias="contentType")
    size: int

    model_config = ConfigDict(populate_by_name=True)


class StoredBridgeFields(BaseModel):
    """The bridge fields as stored on a job. Lenient about the size caps `BridgeFields` enforces on
    requests, so a job recorded before a cap existed stays readable (its notifications are trimmed
    to fit their channels instead)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    callback_url: str | None = Field(default=None, alias="callbackUrl", max_length=2048)
    # Event types the callback wants (models/events.py; default: every outcome); may add "task.progress".
    events: list[str] | None = Field(default=None, max_length=10)
    metadata: dict[str, str] | None = Field(
        default=None,
        max_length=METADATA_MAX_ENTRIES,
        description=(
            f"Up to {METADATA_MAX_ENTRIES} string entries, keys of 1-{METADATA_KEY_MAX_CHARS} and values "
            f"of at most {METADATA_VALUE_MAX_CHARS} characters, at most {METADATA_MAX_BYTES} bytes "
            "as JSON; echoed in every notification of the job."
        ),
    )
    reference: str | None = Field(default=None, max_length=256, min_length=1)


class BridgeFields(StoredBridgeFields):
    """Optional bridge fields a caller adds to a Runway body (SDK users: `extra_body`). They are
    validated (with the caps of models/limits.py), stored and stripped before the body is forwarded
    to Runway."""

    @field_validator("metadata")
    @classmethod
    def _metadata_within_caps(cls, metadata: dict[str, str] | None) -> dict[str, str] | None:
        # It travels in every notification: bounded so a notification always fits its channels.
        if metadata is None:
            return None
        for key, value in metadata.items():
            if not 1 <= len(key) <= METADATA_KEY_MAX_CHARS:
                raise ValueError(f"keys must be 1 to {METADATA_KEY_MAX_CHARS} characters")
            if len(value) > METADATA_VALUE_MAX_CHARS:
                raise ValueError(
                    f"value of {key[:METADATA_KEY_MAX_CHARS]!r} exceeds {METADATA_VALUE_MAX_CHARS} characters"
                )
        if compact_json_size(metadata) > METADATA_MAX_BYTES:
            raise ValueError(f"metadata exceeds {METADATA_MAX_BYTES} bytes as JSON")
        return metadata


BRIDGE_FIELD_NAMES: Final = frozenset(
    {info.alias or name for name, info in BridgeFields.model_fields.items()}
)


class Job(BaseModel):
    """The job record as the logic sees it (the adapter maps it to and from DynamoDB items)."""

    model_config = ConfigDict(populate_by_name=True)

    job_id: str = Field(alias="jobId")
    tenant_id: str = Field(alias="tenantId")
    operation: Operation
    model: str
    status: JobStatus
    created_at: datetime = Field(alias="createdAt")
    updated_at: datetime = Field(alias="updatedAt")
    request_hash: str = Field(alias="requestHash")
    # Runway body: inline when small, else the S3 key holding it (items are capped at 400 KB).
    request_body: dict[str, Any] | None = Field(default=None, alias="requestBody")
    request_s3_key: str | None = Field(default=None, alias="requestS3Key")
    idempotency_key: str | None = Field(default=None, alias="idempotencyKey")
    bridge: StoredBridgeFields = Field(default_factory=StoredBridgeFields)
    runway_task_id: str | None = Field(default=None, alias="runwayTaskId")
    runway_status: str | None = Field(default=None, alias="runwayStatus")
    progress: float | None = None
    # Runway's estimatedCost.credits / cost.credits from its task (the poller records them); the
    # task view reports 0 while unknown, because SDK code requires the fields.
    estimated_credits: float | None = Field(default=None, alias="estimatedCredits")
    cost_credits: int | None = Field(default=None, alias="costCredits")
    failure: str | None = None
    failure_code: str | None = Field(default=None, alias="failureCode")
    outputs: list[JobOutput] = Field(default_factory=list)
    next_poll_at: float | None = Field(default=None, alias="nextPollAt")
    timeout_at: float | None = Field(default=None, alias="timeoutAt")
    lease_owner: str | None = Field(default=None, alias="leaseOwner")
    lease_expires_at: float | None = Field(default=None, alias="leaseExpiresAt")
    poll_count: int = Field(default=0, alias="pollCount")
    # Bounded (epoch seconds, progress) readings the adaptive polling policy learns from
    # (logic/poller/policy.py `record_progress`); kept on the job so any poller run can continue it.
    progress_history: list[list[float]] = Field(default_factory=list, alias="progressHistory")
    version: int = 0
    # What the job counts against its tenant's day (given back if it never reaches Runway).
    charge: UsageCharge | None = None
    # True from the moment the job took one of its tenant's in-flight places (sent to Runway) until
    # it ends or goes back to the queue; the store keeps the tenant's counter in step with it.
    holds_slot: bool = Field(default=False, alias="holdsSlot")
    # True while it also holds one of the bridge-wide places at Runway (until Runway is done with it).
    holds_runway_slot: bool = Field(default=False, alias="holdsRunwaySlot")
    # Why a QUEUED job waits (one of QUEUE_REASONS); cleared once it is sent.
    queue_reason: str | None = Field(default=None, alias="queueReason")
    # When its tenant asked to cancel it (DELETE) and Runway had not confirmed yet: the poller keeps
    # cancelling it at Runway until Runway confirms or the task ends.
    cancel_requested_at: datetime | None = Field(default=None, alias="cancelRequestedAt")
    # Where its outputs are copied when its tenant has its own destination (None: the bridge's
    # bucket). Taken from the tenant at create, so a later change never splits one job's outputs.
    output_destination: OutputDestination | None = Field(default=None, alias="outputDestination")
    # Each status the job entered and when, oldest first, capped (STATUS_HISTORY_MAX); written with
    # the status itself (the create and every transition). Jobs recorded before it existed have none.
    status_history: list[StatusChange] = Field(default_factory=list, alias="statusHistory")

    @property
    def is_terminal(self) -> bool:
        return is_terminal(self.status)

    @field_validator("bridge", mode="before")
    @classmethod
    def _as_stored(cls, value: Any) -> Any:
        # A job holds the stored form, whether built from a validated request or read back, so a job
        # and its stored copy compare equal.
        if isinstance(value, BridgeFields):
            return StoredBridgeFields.model_validate(value.model_dump())
        return value
