"""What logic/ needs from the outside world, as protocols (the records they pass are in
models/records.py). adapters/ implement them with boto3,
httpx and DNS; logic/ never imports an SDK. Tests pass the real adapters against moto and the
Runway emulator over loopback."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from runway_bridge.models.console import ConsoleFile
from runway_bridge.models.copy import DestinationCheck
from runway_bridge.models.job import Job, JobStatus
from runway_bridge.models.notification import Notification, WebhookMessage
from runway_bridge.models.operations import Operation
from runway_bridge.models.outbox import GenerationRejectedDetail, OutboxEvent
from runway_bridge.models.records import (
    ApiKeyRecord,
    DeliveryAttempt,
    DeliveryResult,
    EventMarker,
    InputObject,
    JobPage,
)
from runway_bridge.models.runway import RunwayModel, Task, UploadResponse
from runway_bridge.models.tenant import DailyUsage, OutputDestination, TenantLimits, TenantProfile

# Aware UTC "now"; injected so tests can move time (lease expiry) without sleeping.
Clock = Callable[[], datetime]


class JobStore(Protocol):
    """The jobs table (docs/job-model.md). Every write is conditional; a refused condition raises
    `StoreConditionFailedError`, any other failure `StoreUnavailableError`."""

    def create(self, job: Job, *, limits: TenantLimits | None = None) -> None:
        """Put a new job; refused if a job with that id exists (`attribute_not_exists(pk)`). A job
        with a `charge` adds it to its tenant's day in the same write; `UsageLimitReachedError`
        when that would break one of `limits`' daily limits (then nothing is written)."""

    def get(self, job_id: str) -> Job | None: ...

    def transition(
        self,
        job: Job,
        new_status: JobStatus,
        *,
        changes: Mapping[str, Any] | None = None,
        remove: frozenset[str] = frozenset(),
        event: OutboxEvent | None = None,
        slot_limit: int | None = None,
        runway_limit: int | None = None,
    ) -> Job:
        """Write `new_status` (+ `changes`, by field name of `Job`; `remove` clears fields) if the
        stored job still has `job.status` and `job.version`. A terminal status needs `event`, which
        is written in the same transaction. Returns the job as stored (version + 1).

        The tenant's in-flight counter moves with the job in the same transaction: SUBMITTING takes
        a place (`TenantAtCapacityError` when `slot_limit` places are taken; the bridge-wide count
        likewise, `RunwayAtCapacityError` past `runway_limit`), QUEUED or an end gives it back; an end
        of a job that never reached Runway gives its daily charge back."""
        ...

    def update(self, job: Job, *, changes: Mapping[str, Any], remove: frozenset[str] = frozenset()) -> Job:
        """Change fields without a status change, same version condition (e.g. progress)."""
        ...

    def list_by_tenant(
        self,
        tenant_id: str,
        *,
        status: JobStatus | None,
        limit: int,
        cursor: str | None,
        operation: str | None = None,
        model: str | None = None,
    ) -> JobPage:
        """The tenant's jobs, newest first, optionally of one status, operation and/or model. A
        page may be short (even empty) with a cursor when filters skip many jobs."""
        ...

    def list_by_reference(
        self,
        tenant_id: str,
        reference: str,
        *,
        status: JobStatus | None,
        limit: int,
        cursor: str | None,
        operation: str | None = None,
        model: str | None = None,
    ) -> JobPage: ...

    def delete(self, job: Job) -> None:
        """Delete the job and every item under its partition (events, attempts), if still `job.version`."""

    def due_job_ids(self, *, now: float, limit: int) -> list[str]:
        """Ids of non-terminal jobs whose `nextPollAt` has passed, over every due shard."""
        ...

    def record_event(self, marker: EventMarker) -> bool:
        """Record a source event once; False if it was recorded before (a redelivery)."""
        ...

    def get_event(self, event_id: str) -> EventMarker | None: ...

    def daily_usage(self, tenant_id: str, day: str) -> DailyUsage: ...

    def in_flight(self, tenant_id: str) -> int: ...

    def runway_in_flight(self) -> int:
        """Jobs of all tenants sent to Runway and not finished."""
        ...

    def queued_count(self, tenant_id: str, *, at_most: int | None = None) -> int:
        """How many of the tenant's jobs wait QUEUED (counting no further than `at_most`)."""
        ...

    def attempts(self, job_id: str) -> list[DeliveryAttempt]:
        """The job's webhook attempts, oldest first."""
        ...

    def outbox_events(self, job_id: str) -> list[OutboxEvent]:
        """The job's notification events (published or not), in no particular order."""
        ...


class ObjectStore(Protocol):
    """The artifacts bucket: large request bodies and output copies."""

    def put_request_body(self, key: str, body: Mapping[str, Any]) -> None: ...

    def get_request_body(self, key: str) -> dict[str, Any]: ...

    def presigned_url(self, s3_uri: str, *, expires_in_s: int) -> str: ...

    def delete_objects(self, s3_uris_or_keys: list[str]) -> None:
        """Delete objects; missing ones are fine."""

    def put_submit_handoff(self, job_id: str, runway_task_id: str) -> None:
        """Durably note that Runway accepted `job_id`'s create as `runway_task_id` (written beside
        the job's own task-id write, for the poller when that write does not land in time)."""

    def get_submit_handoff(self, job_id: str) -> str | None:
        """The task id `put_submit_handoff` noted for `job_id`, or None."""


class InputObjects(Protocol):
    """Objects named by `s3://` inputs, in the buckets the operator allowed."""

    def head(self, bucket: str, key: str) -> InputObject:
        """Raises InputObjectMissingError, InputObjectForbiddenError or StoreUnavailableError."""
        ...

    def presign_get(self, bucket: str, key: str, *, expires_in_s: int) -> str:
        """A GET URL of the object anyone holding it may fetch until it expires (no request made)."""
        ...

    def read(self, bucket: str, key: str, *, max_bytes: int) -> tuple[bytes, InputObject]:
        """The object's bytes and what S3 says of it. Raises InputObjectMissingError,
        InputObjectForbiddenError, or StoreUnavailableError (also when it is over `max_bytes`)."""
        ...


class RunwayApi(Protocol):
    """The part of `RunwayClient` logic uses (see adapters/runway/client.py for the retry rules)."""

    def create_task(
        self,
        operation: Operation,
        body: RunwayModel | Mapping[str, Any],
        *,
        budget_s: float,
        retry_rate_limited: bool = True,
    ) -> str: ...

    def get_task(self, task_id: str, *, budget_s: float) -> Task: ...

    def delete_task(self, task_id: str, *, budget_s: float) -> None: ...

    def create_upload(self, filename: str, *, budget_s: float) -> UploadResponse: ...

    def upload(self, filename: str, content: bytes, content_type: str, *, budget_s: float) -> str:
        """Runway's upload flow for `content`; the runway:// URI (usable for 24 h)."""
        ...


# Returns the process's client (the Runway key comes from Secrets Manager, cached).
RunwayFactory = Callable[[], RunwayApi]


class PollerStarter(Protocol):
    """Starts a poller run so a new job's first poll does not wait for the next minute tick
    (issue 5). Must never raise into the submit path."""

    def start(self, job_id: str) -> None: ...


class RunwayCapacity(Protocol):
    """Whether Runway can take another task now (the poller's records of 429s and THROTTLED tasks)."""

    def runway_held_until(self) -> float:
        """Epoch seconds before which no new create should be sent (0 when Runway has room)."""
        ...


class NoopPollerStarter:
    def start(self, job_id: str) -> None:
        return None


class RejectionPublisher(Protocol):
    """Publishes "Generation Rejected" for an invalid "Generation Requested" event."""

    def publish_rejection(self, rejection: GenerationRejectedDetail) -> None: ...


class ApiKeyStore(Protocol):
    def put(self, record: ApiKeyRecord) -> None:
        """Refused (`StoreConditionFailedError`) if the hash exists."""

    def get(self, key_hash: str) -> ApiKeyRecord | None: ...

    def revoke(self, key_hash: str, *, at: datetime) -> ApiKeyRecord | None:
        """Mark revoked; None if no such key."""
        ...

    def list_for_tenant(self, tenant_id: str) -> list[ApiKeyRecord]: ...


class TenantDirectory(Protocol):
    """Which tenants exist, and each tenant's limits and output destination, kept with its keys (the
    API key store)."""

    def tenant_active(self, tenant_id: str) -> bool:
        """True when the tenant holds at least one unrevoked key."""
        ...

    def limits(self, tenant_id: str) -> TenantLimits:
        """The tenant's limits (all unlimited when none were set)."""
        ...

    def set_limits(self, tenant_id: str, limits: TenantLimits) -> None:
        """Replace the tenant's limits (its output destination is kept)."""
        ...

    def profile(self, tenant_id: str) -> TenantProfile:
        """The tenant's limits and output destination, in one read (a submit needs both)."""
        ...

    def set_output_destination(self, tenant_id: str, destination: OutputDestination | None) -> None:
        """Set (None: remove) the tenant's output destination; its limits are kept."""
        ...


class DestinationChecker(Protocol):
    def check(self, destination: OutputDestination) -> DestinationCheck:
        """Ask the copier (with its own role) whether it may and can write outputs to
        `destination`. Raises StoreUnavailableError when the copier could not be asked."""
        ...


class TenantSecrets(Protocol):
    def ensure_webhook_secret(self, tenant_id: str) -> str | None:
        """Create the tenant's `whsec_...` signing secret if it has none; the new value, or None
        if it existed (the value is shown once, at creation)."""
        ...

    def webhook_secret(self, tenant_id: str) -> str: ...

    def signing_secrets(self, tenant_id: str) -> list[str]:
        """Secrets that sign the tenant's webhooks now: the current one first, then the previous one
        while a rotation's overlap lasts (`webhook_rotation_overlap_s`)."""
        ...

    def rotate_webhook_secret(self, tenant_id: str) -> str:
        """Make a new current secret (the old one keeps signing during the overlap); the new value."""
        ...


# --- Notifications (issue 6) --------------------------------------------------------------------


class NotificationChannel(Protocol):
    """One way notifications leave the bridge: the SNS topic, the EventBridge bus, the webhook queue,
    or any other (an adapter, and one line in wiring/notifications.py). The relay and the webhook
    deliverer hand every notification to every channel, with the job it is about (None when there
    is none, or it is gone); the channel takes what is for it (`EventType.broadcast`, the job's
    callback) and ignores the rest. At least once: a channel that cannot take a notification raises
    `StoreUnavailableError` and the notification is handed over again later, to every channel
    (receivers dedupe on `notification.id`)."""

    def publish(self, notification: Notification, job: Job | None) -> None: ...


class WebhookQueue(Protocol):
    """The webhook delivery queue (SQS)."""

    def enqueue(self, message: WebhookMessage, *, delay_s: int = 0) -> None: ...


class WebhookSender(Protocol):
    """POSTs a signed webhook: checks the URL with the SSRF guard at send time, connects to the
    checked address (original Host and SNI), follows no redirect, reads at most a capped response."""

    def send(self, url: str, *, headers: Mapping[str, str], body: bytes) -> DeliveryResult: ...


class DeliveryAttemptStore(Protocol):
    """Webhook attempts on the jobs table (implemented by DynamoJobStore)."""

    def record_attempt(self, job_id: str, attempt: DeliveryAttempt) -> None:
        """Put the attempt; recording the same (event, number) twice keeps one item (idempotent)."""

    def attempts(self, job_id: str) -> list[DeliveryAttempt]:
        """The job's attempts, oldest first."""
        ...


class PollerState(Protocol):
    """The poller's own records (adapters/poller/state.py)."""

    def claim_run(self, run_id: str, *, now: float, hold_s: float) -> bool: ...

    def release_run(self, run_id: str) -> None: ...

    def runway_held_until(self) -> float: ...

    def block_runway_until(self, until: float) -> None: ...

    def hold_runway_until(self, until: float) -> None: ...

    def earliest_due_at(self) -> float | None: ...

    def queued_tenants(self) -> list[str]: ...

    def queue_head(self, tenant_id: str, *, limit: int) -> tuple[list[tuple[str, float]], float]: ...

    def forget_queue(self, tenant_id: str, *, unless_touched_since: float) -> None: ...

    def in_flight(self, tenant_ids: Sequence[str]) -> dict[str, tuple[int, int | None]]: ...

    def duration_counts(self, key: str) -> dict[int, int]:
        """Finished tasks of kind `key` (logic.poller.policy.prior_key) per duration bucket."""
        ...

    def record_duration(self, key: str, bucket: int) -> None: ...


class ConsoleFiles(Protocol):
    """The console's packaged text files (adapters/console_files.py)."""

    def read(self, name: str) -> ConsoleFile | None:
        """The file called `name` in the console package, or None when there is none."""
        ...
