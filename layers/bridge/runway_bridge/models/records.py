"""Plain records passed between logic/ and adapters/ (no I/O): what a store returns, what a guard
accepted, what a webhook attempt did."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from runway_bridge.models.job import Job
from runway_bridge.models.outbox import OutboxEvent


@dataclass(frozen=True)
class JobPage:
    jobs: list[Job]
    # Opaque cursor for the next page, None on the last page.
    cursor: str | None


@dataclass(frozen=True)
class JobKind:
    """A list filter on what was asked: one operation and/or one model (None: any)."""

    operation: str | None = None
    model: str | None = None

    def matches(self, job: Job) -> bool:
        return (self.operation is None or job.operation == self.operation) and (
            self.model is None or job.model == self.model
        )

    @property
    def scope(self) -> str:
        """Its part of a list cursor's scope (empty without a filter, so older cursors still fit)."""
        return (f"|o:{self.operation}" if self.operation else "") + (f"|m:{self.model}" if self.model else "")


@dataclass(frozen=True)
class StreamChange:
    """What one record of the jobs table's stream means to the relay (the store decodes it): an
    outbox event just written, or a job whose progress changed. A record that is neither is None."""

    event: OutboxEvent | None = None
    progressed: Job | None = None


@dataclass(frozen=True)
class InputObject:
    """What HeadObject says about an `s3://` input: its size and its Content-Type (if any)."""

    size: int
    content_type: str | None


@dataclass(frozen=True)
class EventMarker:
    """What the bridge recorded for one source event (EventBridge delivers at least once)."""

    event_id: str
    job_id: str | None
    rejection_code: str | None
    rejection_reason: str | None


@dataclass(frozen=True)
class CheckedUrl:
    """A callback URL the SSRF guard accepted, with the address it resolved to (connect to that
    address, sending the original host, so DNS cannot change between check and use)."""

    url: str
    scheme: str
    host: str
    port: int
    address: str


# Raises CallbackUrlRefusedError with the reason.
UrlChecker = Callable[[str], CheckedUrl]


@dataclass(frozen=True)
class ApiKeyRecord:
    key_hash: str
    tenant_id: str
    name: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class DeliveryResult:
    """One webhook POST. `status_code` None: no answer (refused by the SSRF guard, connect/TLS
    failure, timeout); `error` says which, readable (for the tenant's own attempt records and
    logs). `refused` marks SSRF-guard refusals (nothing was sent). `timed_out` marks an attempt
    that got no (whole) answer in time."""

    status_code: int | None
    latency_ms: int
    error: str | None = None
    refused: bool = False
    timed_out: bool = False
    # The start of the receiver's answer body as readable text (control characters stripped), or
    # None without an answer body; capped by settings `webhook_answer_excerpt_bytes`.
    answer_excerpt: str | None = None


@dataclass(frozen=True)
class DeadLetter:
    """A webhook delivery that exhausted its attempts and waits in the dead-letter queue."""

    event_id: str
    job_id: str
    type: str
    reason: str | None
    dead_lettered_at: datetime | None  # when it was dead-lettered (the queue's sent time)


@dataclass(frozen=True)
class DeliveryAttempt:
    """One recorded webhook attempt (item `ATTEMPT#<eventId>#<n>#<at>` on the job's partition)."""

    event_id: str
    event_type: str
    number: int  # 1-based
    at: datetime
    url: str
    status_code: int | None
    latency_ms: int
    error: str | None
    # What the deliverer decided: "delivered", "retrying", "stopped" (410), "exhausted".
    outcome: str
    answer_excerpt: str | None = None  # DeliveryResult.answer_excerpt
