"""The submitter's shared steps: record the job, take the SUBMITTING lease, POST once, record the
task id (docs/architecture.md; the states are in docs/job-model.md).

The order is the whole point: whatever breaks between those steps leaves a job whose status tells
the truth, and no path ever sends a second create for one job. The entry paths (api.py, events.py,
queued.py) differ only in where the request comes from and how the outcome is answered.

Why not Powertools Idempotency alone: it stores INPROGRESS, runs the function, then COMPLETE.
If the Lambda dies mid-POST, its INPROGRESS record expires with the function timeout and the next
retry runs the function again, i.e. sends a second create that Runway may charge for. It also has
no way to say "this create may have happened: never resend, report it", and its payload-mismatch
error is not the 409/422 split the API needs. So the job record itself is the idempotency record:
its id is derived from (tenant, Idempotency-Key), it is created with a conditional put, and a
SUBMITTING job whose lease expired becomes SUBMISSION_UNKNOWN instead of being retried (or PENDING,
when its submitter's hand-off names the task Runway accepted).

Every submit runs against a deadline (docs/job-model.md, "The submit's deadline"): the create is sent
only with time left to record it, and a task-id write that does not land in time is handed off to
the poller, so the caller is answered before API Gateway gives up.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from pydantic import ValidationError

from runway_bridge.errors import (
    DailyLimitExceededError,
    IdempotencyConflictError,
    IdempotencyMismatchError,
    InvalidRequestError,
    RunwayAtCapacityError,
    RunwayAuthenticationError,
    RunwayError,
    RunwayRateLimitedError,
    RunwaySubmissionUnknownError,
    RunwayValidationError,
    StoreConditionFailedError,
    StoreUnavailableError,
    TenantAtCapacityError,
)
from runway_bridge.logic.deadline import Deadline, run_bounded, wait
from runway_bridge.logic.ports import (
    Clock,
    InputObjects,
    JobStore,
    ObjectStore,
    PollerStarter,
    RejectionPublisher,
    RunwayApi,
    RunwayCapacity,
    RunwayFactory,
    TenantDirectory,
)
from runway_bridge.logic.submission.inputs import S3Inputs
from runway_bridge.models.api import BRIDGE_REFERENCE_FIELD, bridge_field_names
from runway_bridge.models.events import CALLBACK_EVENT_TYPES
from runway_bridge.models.job import (
    BRIDGE_RUNWAY_REJECTED,
    BRIDGE_SUBMISSION_UNKNOWN,
    LEASE_FIELDS,
    QUEUE_NOT_SENT,
    QUEUE_RUNWAY_BUSY,
    QUEUE_RUNWAY_RATE_LIMITED,
    QUEUE_TENANT_BACKLOG,
    QUEUE_TENANT_IN_FLIGHT,
    BridgeFields,
    Job,
    JobStatus,
    StatusChange,
    request_fingerprint,
)
from runway_bridge.models.operations import OPERATIONS, Operation, validate_create_request
from runway_bridge.models.outbox import (
    terminal_event,
)
from runway_bridge.models.records import UrlChecker
from runway_bridge.models.runway import describe_validation_error
from runway_bridge.models.tenant import (
    DAILY_LIMIT_CODES,
    DailyUsage,
    OutputDestination,
    TenantLimits,
    UsageCharge,
    exceeded_limit,
    seconds_until_next_day,
)
from runway_bridge.observability import logger
from runway_bridge.settings import BridgeSettings

IDEMPOTENCY_KEY_MAX_LENGTH: Final = 255
# Attempts at recording Runway's task id after a successful create (the one write that matters most).
RECORD_ATTEMPTS: Final = 4
RECORD_BACKOFF_S: Final = 0.2

SUBMISSION_UNKNOWN_MESSAGE: Final = (
    "The create may have reached Runway, but its answer was lost; the bridge never sends it twice "
    "(a second create costs credits). Check your Runway dashboard before submitting again."
)
LEASE_EXPIRED_MESSAGE: Final = (
    "The bridge stopped while sending the create to Runway; it may have been accepted. The bridge "
    "never sends it twice (a second create costs credits). Check your Runway dashboard."
)


@dataclass(frozen=True)
class SubmitResult:
    """What a submit answers: always the job id once a job is recorded (never an error after)."""

    job_id: str
    status: JobStatus
    # False when an earlier request with the same Idempotency-Key (or event id) made this job.
    created: bool
    runway_task_id: str | None = None


@dataclass(frozen=True)
class EventSubmitResult:
    """Outcome of one "Generation Requested" event: a job, or a recorded rejection."""

    event_id: str
    job_id: str | None
    status: JobStatus | None
    reference: str | None
    duplicate: bool
    rejection_code: str | None = None
    rejection_reason: str | None = None


@dataclass(frozen=True)
class _PreparedRequest:
    operation: Operation
    runway_body: dict[str, Any]
    bridge: BridgeFields
    model: str
    fingerprint: str


class SubmissionCore:
    """The dependencies (injected; wiring/ has the deployed ones) and the steps every entry path
    shares."""

    def __init__(
        self,
        *,
        jobs: JobStore,
        objects: ObjectStore,
        runway_factory: RunwayFactory,
        settings: BridgeSettings,
        clock: Clock,
        poller_starter: PollerStarter,
        check_callback_url: UrlChecker,
        rejections: RejectionPublisher,
        tenants: TenantDirectory,
        capacity: RunwayCapacity,
        input_objects: InputObjects | None = None,
        monotonic: Any = time.monotonic,
        sleep: Any = time.sleep,
    ) -> None:
        self._jobs = jobs
        self._objects = objects
        self._runway_factory = runway_factory
        self._settings = settings
        self._clock = clock
        self._poller = poller_starter
        self._check_callback_url = check_callback_url
        self._rejections = rejections
        self._tenants = tenants
        self._capacity = capacity
        # s3:// inputs: without `input_objects` no bucket is allowed (each is refused, 400).
        self._inputs = S3Inputs(
            input_objects if input_objects is not None else _NO_INPUT_OBJECTS,
            allowed_buckets=settings.input_buckets if input_objects is not None else (),
            url_ttl_s=settings.input_url_ttl_s,
            delivery=settings.input_delivery,
        )
        self._monotonic = monotonic
        self._sleep = sleep

    def _refuse_over_daily_limit(
        self,
        tenant_id: str,
        limits: TenantLimits,
        charge: UsageCharge,
        used: DailyUsage,
        *,
        certain: bool = False,
    ) -> None:
        """429 (nothing stored, nothing sent) when `charge` on top of `used` breaks a daily limit.
        `certain`: the store already refused it, so name the jobs limit if the counters moved on."""
        over = exceeded_limit(limits, used, charge) or ("jobs" if certain else None)
        if over is None:
            return
        logger.info("create refused by a daily limit", extra={"tenant_id": tenant_id, "limit": over})
        raise DailyLimitExceededError(
            f"Your daily limit ({over}) is reached for {charge.day} (UTC); nothing was sent to Runway.",
            code=DAILY_LIMIT_CODES[over],
            retry_after_s=seconds_until_next_day(self._clock()),
        )

    def _hold_reason(self, tenant_id: str, limits: TenantLimits) -> str | None:
        """Why a new job must wait in the bridge's queue instead of being sent now, if it must."""
        if self._capacity.runway_held_until() > self._clock().timestamp():
            return QUEUE_RUNWAY_BUSY
        runway_max = self._settings.runway_max_in_flight
        if runway_max and self._jobs.runway_in_flight() >= runway_max:
            return QUEUE_RUNWAY_BUSY
        if self._jobs.queued_count(tenant_id, at_most=1) > 0:
            return QUEUE_TENANT_BACKLOG  # the tenant's older jobs go first
        if limits.max_in_flight is not None and self._jobs.in_flight(tenant_id) >= limits.max_in_flight:
            return QUEUE_TENANT_IN_FLIGHT
        return None

    def resolve_expired_submission(self, job_id: str) -> Job | None:
        """A SUBMITTING job whose lease expired: the Lambda sending its create died (or lost its
        answer) mid-POST, so Runway may have accepted it. It ends SUBMISSION_UNKNOWN and is never
        resent. Jobs in any other state, or with a live lease, are returned unchanged."""
        job = self._jobs.get(job_id)
        if job is None or job.status is not JobStatus.SUBMITTING:
            return job
        if job.lease_expires_at is not None and job.lease_expires_at > self._clock().timestamp():
            return job
        # Runway accepted the create but its submitter could not record the task id in time: the
        # hand-off it wrote beside that write names the task (raises while S3 is unavailable, so
        # the job stays due instead of ending SUBMISSION_UNKNOWN without a look).
        handed_off = self._objects.get_submit_handoff(job_id)
        if handed_off is not None:
            return self._record_handoff(job, handed_off)
        try:
            return self._finish(
                job,
                JobStatus.SUBMISSION_UNKNOWN,
                failure=LEASE_EXPIRED_MESSAGE,
                failure_code=BRIDGE_SUBMISSION_UNKNOWN,
                remove=frozenset({"lease_owner", "lease_expires_at"}),
            )
        except StoreConditionFailedError:
            return self._jobs.get(job_id)  # its submitter recorded an outcome just now

    def _record_handoff(self, job: Job, task_id: str) -> Job | None:
        logger.info(
            "recording a handed-off Runway task id",
            extra={"job_id": job.job_id, "runway_task_id": task_id},
        )
        try:
            return self._accepted(job, task_id, first_look_in_s=0.0)  # poll it in the next round
        except StoreConditionFailedError:
            return self._jobs.get(job.job_id)  # its submitter recorded it just now

    # --- Steps ------------------------------------------------------------------------------

    def _prepare(self, operation: str, raw_body: Any) -> _PreparedRequest:
        if operation not in OPERATIONS:
            raise InvalidRequestError(f"unknown operation {operation!r}", code="unknown_operation")
        if not isinstance(raw_body, Mapping):
            raise InvalidRequestError("the request body must be a JSON object")
        # Bridge fields are split off by name, except a name Runway's body uses itself for this
        # operation (character_performance's `reference`); `bridgeReference` works everywhere.
        bridge_names = bridge_field_names(operation)
        bridge_part = {name: value for name, value in raw_body.items() if name in bridge_names}
        runway_part = {name: value for name, value in raw_body.items() if name not in bridge_names}
        if BRIDGE_REFERENCE_FIELD in bridge_part:
            if "reference" in bridge_part:
                raise InvalidRequestError(f"give reference or {BRIDGE_REFERENCE_FIELD}, not both")
            bridge_part["reference"] = bridge_part.pop(BRIDGE_REFERENCE_FIELD)
        try:
            bridge = BridgeFields.model_validate(bridge_part)
        except ValidationError as exc:
            raise InvalidRequestError(describe_validation_error(exc)) from None
        unknown_events = sorted(set(bridge.events or ()) - CALLBACK_EVENT_TYPES)
        if unknown_events:
            known = ", ".join(sorted(CALLBACK_EVENT_TYPES))
            raise InvalidRequestError(
                f"events: unknown event type(s) {', '.join(unknown_events)} (known: {known})"
            )
        try:
            validated = validate_create_request(
                operation, runway_part, passthrough=self._settings.passthrough, s3_inputs=True
            )
        except ValidationError as exc:
            raise InvalidRequestError(describe_validation_error(exc)) from None
        if bridge.callback_url is not None:
            self._check_callback_url(bridge.callback_url)  # raises CallbackUrlRefusedError (400)
        runway_body = validated.to_runway_json()
        bridge_json = bridge.model_dump(mode="json", by_alias=True, exclude_none=True)
        return _PreparedRequest(
            operation=operation,
            runway_body=runway_body,
            bridge=bridge,
            model=str(runway_body.get("model", "")),
            fingerprint=request_fingerprint(operation, {"runway": runway_body, "bridge": bridge_json}),
        )

    def _new_job(
        self,
        job_id: str,
        tenant_id: str,
        request: _PreparedRequest,
        idempotency_key: str | None,
        *,
        charge: UsageCharge,
        hold: str | None,
        output_destination: OutputDestination | None = None,
    ) -> Job:
        now = self._clock()
        body_bytes = len(json.dumps(request.runway_body, separators=(",", ":")).encode())
        inline = body_bytes <= self._settings.inline_body_max_bytes
        s3_key = None
        if not inline:
            # The hash is part of the key: a request reusing the Idempotency-Key with another body
            # (answered 422) must not overwrite the body of the job the key already names.
            s3_key = f"requests/{job_id}/{request.fingerprint}.json"
            self._objects.put_request_body(s3_key, request.runway_body)
        return Job(
            job_id=job_id,
            tenant_id=tenant_id,
            operation=request.operation,
            model=request.model,
            status=JobStatus.QUEUED,
            created_at=now,
            updated_at=now,
            request_hash=request.fingerprint,
            request_body=request.runway_body if inline else None,
            request_s3_key=s3_key,
            idempotency_key=idempotency_key,
            bridge=request.bridge,
            # A held job is due at once (the poller admits it in turn). Otherwise, if this submit
            # dies before its POST, the poller finds the job QUEUED and sends it; not sooner, so it
            # does not race the submit that is about to send it.
            next_poll_at=now.timestamp() + (0.0 if hold else self._settings.submit_lease_margin_s),
            charge=charge,
            queue_reason=hold,
            output_destination=output_destination,
            status_history=[StatusChange(status=JobStatus.QUEUED, at=now)],
        )

    def _replay(self, existing: Job, request: _PreparedRequest) -> SubmitResult:
        """A request whose Idempotency-Key already names a job."""
        if existing.request_hash != request.fingerprint:
            raise IdempotencyMismatchError(
                "This Idempotency-Key was already used with a different request body."
            )
        if existing.status is JobStatus.SUBMITTING:
            resolved = self.resolve_expired_submission(existing.job_id)
            if resolved is None or resolved.status is JobStatus.SUBMITTING:
                raise IdempotencyConflictError(
                    "A request with this Idempotency-Key is still being submitted; retry shortly."
                )
            existing = resolved
        if existing.status is JobStatus.QUEUED:
            self._start_poller(existing.job_id)
        return SubmitResult(
            existing.job_id, existing.status, created=False, runway_task_id=existing.runway_task_id
        )

    def _send_safely(
        self, job: Job, runway_body: Mapping[str, Any], *, budget_s: float, limits: TenantLimits
    ) -> Job:
        """`_send`, but never raises once the job is recorded: the job's status is the answer."""
        try:
            return self._send(job, runway_body, budget_s=budget_s, limits=limits)
        # Deliberately broad: after the job is recorded, an answer other than its id would make an
        # SDK retry the create (it retries 5xx without a key); the job's status carries the outcome.
        except Exception:  # noqa: BLE001
            logger.exception("submit stopped after the job was recorded", extra={"job_id": job.job_id})
            return self._safe_get(job.job_id) or job

    def _send(
        self, job: Job, runway_body: Mapping[str, Any], *, budget_s: float, limits: TenantLimits
    ) -> Job:
        deadline = Deadline(budget_s, monotonic=self._monotonic)
        # Get the client (and the Runway key), and turn s3:// inputs into what Runway can fetch,
        # before SUBMITTING: a failure here provably sent no create, so the job simply stays QUEUED
        # for the poller. Only Runway sees the presigned URLs (or runway:// uploads); the job keeps
        # its s3:// body.
        runway = self._runway_factory()
        runway_body = self._inputs.for_runway(
            job.operation,
            runway_body,
            runway,
            # An upload leaves the create its minimum time (it is cut short otherwise: stays QUEUED).
            budget_s=max(deadline.remaining() - self._settings.submit_min_send_s, 0.0),
        )
        if deadline.remaining() < self._settings.submit_min_send_s:
            # Too little time to send the create and record its answer before this call must
            # answer: the job stays QUEUED (recorded) and the poller sends it.
            logger.info(
                "too little time left to send the create; left to the poller",
                extra={"job_id": job.job_id, "remaining_s": round(deadline.remaining(), 3)},
            )
            return job
        now = self._clock()
        # Nobody can still be mid-POST once this passes: the POST ends within the budget.
        lease_expires_at = (
            now.timestamp() + max(deadline.remaining(), 0.0) + self._settings.submit_lease_margin_s
        )
        lease_owner = f"submit-{uuid.uuid4()}"
        try:
            submitting = self._jobs.transition(
                job,
                JobStatus.SUBMITTING,
                changes={
                    "updated_at": now,
                    "lease_owner": lease_owner,
                    "lease_expires_at": lease_expires_at,
                    # The poller looks again when the lease has expired (see resolve_expired_submission).
                    "next_poll_at": lease_expires_at,
                    "queue_reason": None,
                },
                slot_limit=limits.max_in_flight,
                runway_limit=self._settings.runway_max_in_flight or None,
            )
        except StoreConditionFailedError:
            return self._safe_get(job.job_id) or job  # someone else (the poller) took it
        except (TenantAtCapacityError, RunwayAtCapacityError) as exc:
            # The tenant's (or Runway's) places are all taken, a race the hold check did not see:
            # it waits, due at once, and the poller admits it in turn when a place frees.
            reason = QUEUE_TENANT_IN_FLIGHT if isinstance(exc, TenantAtCapacityError) else QUEUE_RUNWAY_BUSY
            logger.info("job waits for an in-flight place", extra={"job_id": job.job_id, "reason": reason})
            return self._jobs.update(job, changes={"next_poll_at": now.timestamp(), "queue_reason": reason})
        # The POST leaves time for recording its answer.
        remaining = deadline.remaining() - self._settings.submit_record_budget_s
        try:
            task_id = self._create(runway, submitting, runway_body, remaining)
        except RunwaySubmissionUnknownError as exc:
            logger.warning(
                "create may have reached Runway", extra={"job_id": job.job_id, "error": exc.message}
            )
            return self._finish(
                submitting,
                JobStatus.SUBMISSION_UNKNOWN,
                failure=SUBMISSION_UNKNOWN_MESSAGE,
                failure_code=BRIDGE_SUBMISSION_UNKNOWN,
                remove=frozenset({"lease_owner", "lease_expires_at"}),
            )
        except RunwayRateLimitedError as exc:
            # Daily cap or burst limit: provably not accepted. Nothing waits; the poller retries.
            delay = (
                exc.retry_after_s if exc.retry_after_s is not None else self._settings.queued_retry_delay_s
            )
            return self._back_to_queue(
                submitting, delay, reason=exc.message, queue_reason=QUEUE_RUNWAY_RATE_LIMITED
            )
        except RunwayValidationError as exc:
            return self._finish(
                submitting,
                JobStatus.FAILED,
                failure=f"Runway refused the request: {exc.message}",
                failure_code=BRIDGE_RUNWAY_REJECTED,
                remove=frozenset({"lease_owner", "lease_expires_at"}),
            )
        except RunwayAuthenticationError as exc:
            # The bridge's Runway key is wrong: an operator problem. The job waits, queued.
            logger.error("Runway refused the bridge's API key", extra={"job_id": job.job_id})
            return self._back_to_queue(submitting, self._settings.queued_retry_delay_s, reason=exc.message)
        except RunwayError as exc:
            # Any other RunwayError from create_task means Runway did not accept the create
            # (the client's create rule): refused connection, budget too short to send, a 4xx.
            if exc.status_code is not None and 400 <= exc.status_code < 500:
                return self._finish(
                    submitting,
                    JobStatus.FAILED,
                    failure=f"Runway refused the request ({exc.status_code}): {exc.message}",
                    failure_code=BRIDGE_RUNWAY_REJECTED,
                    remove=frozenset({"lease_owner", "lease_expires_at"}),
                )
            return self._back_to_queue(submitting, self._settings.queued_retry_delay_s, reason=exc.message)
        # Logged before any write: if this Lambda dies now, the log still names the paid task.
        logger.info("Runway accepted the create", extra={"job_id": job.job_id, "runway_task_id": task_id})
        record_s = min(self._settings.submit_record_budget_s, max(deadline.remaining(), 0.0))
        accepted = self._record_task_id(submitting, task_id, wait_s=record_s)
        self._start_poller(job.job_id, wait_s=deadline.remaining())
        return accepted

    def _create(self, runway: RunwayApi, job: Job, runway_body: Mapping[str, Any], budget_s: float) -> str:
        return runway.create_task(job.operation, runway_body, budget_s=budget_s, retry_rate_limited=False)

    def _record_task_id(self, submitting: Job, task_id: str, *, wait_s: float) -> Job:
        """The write that makes the create count as accepted, with a hand-off record of (job id,
        task id) written beside it; waits at most `wait_s` (boto3 calls cannot be interrupted, so
        both run on their own threads and finish or fail on their own). If the write has not
        landed by then the job stays SUBMITTING, and once its lease expires the poller records the
        task id from the hand-off (`resolve_expired_submission`). Only when neither landed does the
        job end SUBMISSION_UNKNOWN: the task id is in the log for an operator."""
        started = self._monotonic()
        job_id = submitting.job_id
        handoff = run_bounded(
            lambda: self._objects.put_submit_handoff(job_id, task_id), name=f"handoff-{job_id}"
        )
        recording = run_bounded(lambda: self._write_task_id(submitting, task_id), name=f"record-{job_id}")
        try:
            done, recorded = wait(recording, wait_s)
        except Exception:  # noqa: BLE001 - the write failed for good; the hand-off may still save it
            logger.exception("recording the task id failed", extra={"job_id": job_id})
            done, recorded = True, None
        if recorded is not None:
            return recorded
        try:
            handed_off, _ = wait(handoff, wait_s - (self._monotonic() - started))
        except Exception:  # noqa: BLE001
            handed_off = False
        if handed_off:
            logger.warning(
                "task id not recorded in time; the poller records it from the hand-off",
                extra={"job_id": job_id, "runway_task_id": task_id, "write_finished": done},
            )
        else:
            logger.error(
                "Runway accepted the create but the task id could not be recorded",
                extra={"job_id": job_id, "runway_task_id": task_id},
            )
        return submitting

    def _accepted(self, submitting: Job, task_id: str, *, first_look_in_s: float) -> Job:
        """SUBMITTING -> PENDING with Runway's task id: the write that makes a create count."""
        now = self._clock()
        return self._jobs.transition(
            submitting,
            JobStatus.PENDING,
            changes={
                "updated_at": now,
                "runway_task_id": task_id,
                "runway_status": "PENDING",
                "next_poll_at": now.timestamp() + first_look_in_s,
                "timeout_at": now.timestamp() + self._settings.job_timeout_s,
            },
            remove=LEASE_FIELDS,
        )

    def _write_task_id(self, submitting: Job, task_id: str) -> Job | None:
        """Record the task id (retried briefly); None when it never landed."""
        current = submitting
        for attempt in range(1, RECORD_ATTEMPTS + 1):
            try:
                return self._accepted(current, task_id, first_look_in_s=self._settings.first_poll_delay_s)
            except StoreConditionFailedError:
                # A cancel request changed the record (still ours: try again on it), or the
                # poller recorded the task from the hand-off.
                fresh = self._own(current)
                if fresh is None:
                    return self._safe_get(submitting.job_id)
                current = fresh
            except StoreUnavailableError:
                if attempt < RECORD_ATTEMPTS:
                    self._sleep(RECORD_BACKOFF_S * attempt)
        return None

    def _own(self, job: Job) -> Job | None:
        """The fresh record of a job this submit holds SUBMITTING (another writer, e.g. a cancel
        request, changed its version meanwhile); None when it is no longer this submit's."""
        if job.status is not JobStatus.SUBMITTING or job.lease_owner is None:
            return None
        fresh = self._safe_get(job.job_id)
        if fresh is None or fresh.status is not JobStatus.SUBMITTING:
            return None
        return fresh if fresh.lease_owner == job.lease_owner else None

    def _back_to_queue(
        self, submitting: Job, delay_s: float, *, reason: str, queue_reason: str = QUEUE_NOT_SENT
    ) -> Job:
        now = self._clock()
        logger.info(
            "create not accepted; job stays queued", extra={"job_id": submitting.job_id, "reason": reason}
        )
        changes = {
            "updated_at": now,
            "next_poll_at": now.timestamp() + max(delay_s, 1.0),
            "queue_reason": queue_reason,
        }
        try:
            queued = self._jobs.transition(submitting, JobStatus.QUEUED, changes=changes, remove=LEASE_FIELDS)
        except StoreConditionFailedError:
            fresh = self._own(submitting)
            if fresh is None:
                raise
            queued = self._jobs.transition(fresh, JobStatus.QUEUED, changes=changes, remove=LEASE_FIELDS)
        if queued.cancel_requested_at is not None:
            # Cancelled while its create was refused: nothing reached Runway, so it ends here.
            return self._finish(queued, JobStatus.CANCELLED)
        return queued

    def _finish(
        self,
        job: Job,
        status: JobStatus,
        *,
        failure: str | None = None,
        failure_code: str | None = None,
        remove: frozenset[str] = frozenset(),
    ) -> Job:
        """A terminal status, written in one transaction with its outbox event."""
        now = self._clock()
        changes: dict[str, Any] = {"updated_at": now, "failure": failure, "failure_code": failure_code}
        future = job.model_copy(update={**changes, "status": status})
        try:
            return self._jobs.transition(
                job, status, changes=changes, remove=remove, event=terminal_event(future)
            )
        except StoreConditionFailedError:
            fresh = self._own(job)  # a cancel request changed it; the outcome stands
            if fresh is None:
                raise
            future = fresh.model_copy(update={**changes, "status": status})
            return self._jobs.transition(
                fresh, status, changes=changes, remove=remove, event=terminal_event(future)
            )

    def _start_poller(self, job_id: str, *, wait_s: float | None = None) -> None:
        """Start a poller run; with `wait_s`, wait at most that long (the start goes on alone)."""
        if wait_s is None:
            self._start_poller_now(job_id)
            return
        started = run_bounded(lambda: self._start_poller_now(job_id), name=f"poller-start-{job_id}")
        if not wait(started, wait_s)[0]:
            logger.warning("poller start still running at the deadline", extra={"job_id": job_id})

    def _start_poller_now(self, job_id: str) -> None:
        try:
            self._poller.start(job_id)
        except Exception:  # noqa: BLE001 - the job is recorded and due; the next scheduled run picks it up
            logger.exception("could not start a poller run", extra={"job_id": job_id})

    def _safe_get(self, job_id: str) -> Job | None:
        try:
            return self._jobs.get(job_id)
        except StoreUnavailableError:
            return None


class _NoInputObjects:
    """Stands in when no input objects are wired: every bucket is refused before any look."""

    def head(self, bucket: str, key: str) -> Any:
        raise AssertionError("no s3:// input bucket is allowed")

    def presign_get(self, bucket: str, key: str, *, expires_in_s: int) -> str:
        raise AssertionError("no s3:// input bucket is allowed")

    def read(self, bucket: str, key: str, *, max_bytes: int) -> tuple[bytes, Any]:
        raise AssertionError("no s3:// input bucket is allowed")


_NO_INPUT_OBJECTS: Final = _NoInputObjects()


def check_idempotency_key(key: str) -> None:
    if not key or len(key) > IDEMPOTENCY_KEY_MAX_LENGTH or not key.isprintable():
        raise InvalidRequestError(
            f"Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_MAX_LENGTH} printable characters",
            code="invalid_idempotency_key",
        )
