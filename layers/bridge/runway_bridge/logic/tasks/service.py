"""Reading, listing and deleting a tenant's jobs, and the upload pass-through.

The job record is the truth (issue 5's poller keeps it fresh); a GET maps it to Runway's task
shape so SDK code behaves (docs/architecture.md, "The flow"). A tenant only ever sees its own jobs:
another tenant's job id answers exactly like an unknown one (404).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any, Final

from pydantic import ValidationError

from runway_bridge.errors import (
    IdempotencyConflictError,
    InvalidRequestError,
    NotFoundError,
    RateLimitedError,
    RunwayError,
    RunwayNotFoundError,
    RunwayRateLimitedError,
    RunwayValidationError,
    StoreConditionFailedError,
    UpstreamUnavailableError,
)
from runway_bridge.logic.links import OutputLinkSigner
from runway_bridge.logic.ports import Clock, JobStore, ObjectStore, RunwayFactory
from runway_bridge.models.api import (
    LIST_MODEL_MAX_CHARS,
    LIST_PAGE_DEFAULT,
    LIST_PAGE_MAX,
    BridgeInfo,
    DeliveryView,
    EstimatedCost,
    FinalCost,
    OutputView,
    TaskListPage,
    TaskView,
    TimelineEntry,
    ViewStatus,
)
from runway_bridge.models.job import (
    AT_RUNWAY,
    BRIDGE_SUBMISSION_UNKNOWN,
    BRIDGE_TIMED_OUT,
    Job,
    JobStatus,
)
from runway_bridge.models.operations import OPERATIONS
from runway_bridge.models.outbox import OutboxEvent, terminal_event
from runway_bridge.models.records import DeliveryAttempt
from runway_bridge.models.runway import UploadRequest, describe_validation_error
from runway_bridge.observability import logger
from runway_bridge.settings import BridgeSettings

# How each job status looks to Runway-shaped clients.
VIEW_STATUS: Final[dict[JobStatus, ViewStatus]] = {
    JobStatus.QUEUED: "PENDING",
    JobStatus.SUBMITTING: "PENDING",
    JobStatus.PENDING: "PENDING",
    JobStatus.THROTTLED: "THROTTLED",
    JobStatus.RUNNING: "RUNNING",
    JobStatus.COPYING: "RUNNING",  # outputs are not in S3 yet: never hand out Runway's expiring URLs
    JobStatus.SUCCEEDED: "SUCCEEDED",
    JobStatus.FAILED: "FAILED",
    JobStatus.CANCELLED: "CANCELLED",
    JobStatus.TIMED_OUT: "FAILED",
    JobStatus.SUBMISSION_UNKNOWN: "FAILED",
}
DEFAULT_FAILURE: Final[dict[JobStatus, tuple[str, str]]] = {
    JobStatus.TIMED_OUT: ("The task did not finish within the bridge's time limit.", BRIDGE_TIMED_OUT),
    JobStatus.SUBMISSION_UNKNOWN: (
        "The create may have reached Runway but the bridge could not confirm it; it was not resent.",
        BRIDGE_SUBMISSION_UNKNOWN,
    ),
}
UPLOAD_BUDGET_S: Final = 20.0
# A DELETE judges the job again at most this often when writers keep moving it meanwhile.
DELETE_ROUNDS: Final = 3


class TaskService:
    """GET/LIST/DELETE of jobs for one tenant, and `POST /v1/uploads` passed through to Runway."""

    def __init__(
        self,
        *,
        jobs: JobStore,
        objects: ObjectStore,
        runway_factory: RunwayFactory,
        settings: BridgeSettings,
        clock: Clock,
        links: OutputLinkSigner | None = None,
    ) -> None:
        self._links = links
        self._jobs = jobs
        self._objects = objects
        self._runway_factory = runway_factory
        self._settings = settings
        self._clock = clock

    def get_job(self, tenant_id: str, job_id: str) -> Job:
        """The tenant's job; `NotFoundError` when missing or another tenant's."""
        job = self._jobs.get(job_id) if _plausible_id(job_id) else None
        if job is None or job.tenant_id != tenant_id:
            raise NotFoundError("Task not found.")
        return job

    def get_view(self, tenant_id: str, job_id: str, *, base_url: str | None = None) -> TaskView:
        """`GET /v1/tasks/{id}`: the job in Runway's task shape plus the `bridge` object, with each
        output's stable link (under settings `public_base_url`, else `base_url`: where the request
        reached the API), its webhook attempts and its timeline."""
        job = self.get_job(tenant_id, job_id)
        view = self.view(job)
        base = self._settings.public_base_url or base_url
        if self._links is not None and base:
            now = self._clock()
            for output_view, output in zip(
                view.bridge.outputs, sorted(job.outputs, key=lambda o: o.index), strict=True
            ):
                output_view.link, output_view.link_expires_at = self._links.link_for(
                    job, output, now=now, base_url=base
                )
        attempts = self._jobs.attempts(job.job_id) if job.bridge.callback_url else []
        if job.bridge.callback_url:
            view.bridge.webhook_deliveries = [
                DeliveryView(
                    event_id=attempt.event_id,
                    type=attempt.event_type,
                    attempt=attempt.number,
                    at=attempt.at,
                    status_code=attempt.status_code,
                    latency_ms=attempt.latency_ms,
                    error=attempt.error,
                    outcome=attempt.outcome,
                    answer_excerpt=attempt.answer_excerpt,
                )
                for attempt in attempts
            ]
        view.bridge.timeline = timeline(job, self._jobs.outbox_events(job.job_id), attempts)
        return view

    def list(
        self,
        tenant_id: str,
        *,
        status: str | None = None,
        reference: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        operation: str | None = None,
        model: str | None = None,
    ) -> TaskListPage:
        """`GET /v1/tasks`: the tenant's jobs, newest first, optionally one bridge status (QUEUED,
        RUNNING, ...), one caller reference, one operation and/or one model. `InvalidRequestError`
        for a bad status, operation, model, limit or cursor (a cursor only works for the tenant and
        query that produced it)."""
        if operation is not None and operation not in OPERATIONS:
            raise InvalidRequestError(f"operation: must be one of {', '.join(OPERATIONS)}")
        if model is not None and not 1 <= len(model) <= LIST_MODEL_MAX_CHARS:
            raise InvalidRequestError(f"model: must be 1 to {LIST_MODEL_MAX_CHARS} characters")
        wanted: JobStatus | None = None
        if status is not None:
            try:
                wanted = JobStatus(status.upper())
            except ValueError:
                known = ", ".join(s.value for s in JobStatus)
                raise InvalidRequestError(f"status: must be one of {known}") from None
        size = LIST_PAGE_DEFAULT if limit is None else limit
        if not 1 <= size <= LIST_PAGE_MAX:
            raise InvalidRequestError(f"limit: must be between 1 and {LIST_PAGE_MAX}")
        if reference is not None and not 1 <= len(reference) <= 256:
            raise InvalidRequestError("reference: must be 1 to 256 characters")
        if reference is None:
            page = self._jobs.list_by_tenant(
                tenant_id, status=wanted, limit=size, cursor=cursor, operation=operation, model=model
            )
        else:
            page = self._jobs.list_by_reference(
                tenant_id,
                reference,
                status=wanted,
                limit=size,
                cursor=cursor,
                operation=operation,
                model=model,
            )
        return TaskListPage(data=[self.view(job) for job in page.jobs], next_cursor=page.cursor)

    def delete(self, tenant_id: str, job_id: str, *, budget_s: float | None = None) -> None:
        """`DELETE /v1/tasks/{id}`, answered like Runway (no error once the job is found): a
        finished job is deleted with its S3 objects (then 404; outputs copied to its tenant's own
        bucket stay there); a QUEUED one is cancelled at once (never sent); a SUBMITTING or
        submitted one first records the cancel request (`cancelRequestedAt`), then a submitted one
        gets one Runway DELETE within `budget_s` (default `delete_budget_s`): confirmed (or already
        gone) ends it CANCELLED now, otherwise the poller keeps cancelling it at Runway (see
        logic/poller/service.py). A SUBMITTING job is cancelled by the poller once its task id is
        recorded. `IdempotencyConflictError` (409) only while its outputs are being copied: Runway
        already finished it, nothing runs or is charged any more, and a retry a little later
        deletes it."""
        budget = self._settings.delete_budget_s if budget_s is None else budget_s
        job = self.get_job(tenant_id, job_id)
        first = True
        for _ in range(DELETE_ROUNDS):
            try:
                self._delete_or_cancel(job, budget, first=first)
                return
            except StoreConditionFailedError:
                # The poller or the submitter moved it meanwhile: judge again on the fresh record.
                job = self.get_job(tenant_id, job_id)
                first = False
        raise IdempotencyConflictError(
            "The task is changing state; retry in a few seconds.", code="task_busy"
        )

    def _delete_or_cancel(self, job: Job, budget_s: float, *, first: bool) -> None:
        if job.is_terminal:
            # Finished before this request changed anything: delete it, as Runway does. A job
            # this request's own cancel ended meanwhile stays, like a cancelled Runway task.
            if first or job.status is not JobStatus.CANCELLED:
                self._delete_finished(job)
            return
        if job.status is JobStatus.COPYING:
            raise IdempotencyConflictError(
                "Runway already finished this task and its outputs are being copied; retry in a few "
                "seconds to delete it.",
                code="task_busy",
            )
        if job.status is JobStatus.QUEUED:
            self._finish_cancelled(job)  # never sent: nothing to cancel at Runway
            return
        requested = self._record_cancel_request(job, budget_s)
        if requested.status not in AT_RUNWAY or requested.runway_task_id is None:
            logger.info("cancel recorded while the create is in flight", extra={"job_id": job.job_id})
            return  # SUBMITTING: the poller cancels it once its task id is recorded
        try:
            self._runway_factory().delete_task(requested.runway_task_id, budget_s=budget_s)
        except RunwayNotFoundError:
            pass  # already gone at Runway: nothing left to cancel
        except RunwayError as exc:
            logger.warning(
                "Runway did not confirm the cancel; the poller keeps cancelling it",
                extra={
                    "job_id": job.job_id,
                    "runway_task_id": requested.runway_task_id,
                    "error": exc.message,
                },
            )
            return
        self._finish_cancelled(requested)

    def _record_cancel_request(self, job: Job, budget_s: float) -> Job:
        """Store the cancel request (version-checked); a submitted job becomes due right after this
        request's own Runway DELETE could have finished, so the poller takes over if it did not."""
        if job.cancel_requested_at is not None and job.status not in AT_RUNWAY:
            return job  # already recorded; the poller acts on it
        now = self._clock()
        changes: dict[str, Any] = {"updated_at": now}
        if job.cancel_requested_at is None:
            changes["cancel_requested_at"] = now
        if job.status in AT_RUNWAY:
            changes["next_poll_at"] = now.timestamp() + budget_s + 1.0
        return self._jobs.update(job, changes=changes)

    def create_upload(self, raw_body: Any, *, budget_s: float = UPLOAD_BUDGET_S) -> dict[str, Any]:
        """`POST /v1/uploads` passed through (the SDK then posts the file to `uploadUrl` itself)."""
        try:
            request = UploadRequest.model_validate(raw_body)
        except ValidationError as exc:
            raise InvalidRequestError(describe_validation_error(exc)) from None
        try:
            upload = self._runway_factory().create_upload(request.filename, budget_s=budget_s)
        except RunwayValidationError as exc:
            raise InvalidRequestError(exc.message, code=exc.code or "invalid_request") from exc
        except RunwayRateLimitedError as exc:
            raise RateLimitedError("Runway asks to slow down.", retry_after_s=exc.retry_after_s) from exc
        except RunwayError as exc:
            raise UpstreamUnavailableError("Runway did not answer the upload request; retry.") from exc
        return upload.model_dump(mode="json", by_alias=True, exclude_none=True)

    # --- Mapping ----------------------------------------------------------------------------

    def view(self, job: Job) -> TaskView:
        """Map a job to Runway's task shape (see `VIEW_STATUS`) plus the `bridge` object."""
        status = VIEW_STATUS[job.status]
        outputs = [
            OutputView(
                index=output.index,
                s3_uri=output.s3_uri,
                sha256=output.sha256,
                content_type=output.content_type,
                size=output.size,
                url=self._objects.presigned_url(output.s3_uri, expires_in_s=self._settings.output_url_ttl_s),
            )
            for output in sorted(job.outputs, key=lambda output: output.index)
        ]
        failure, failure_code = job.failure, job.failure_code
        if status == "FAILED" and job.status in DEFAULT_FAILURE:
            default_failure, default_code = DEFAULT_FAILURE[job.status]
            failure, failure_code = failure or default_failure, failure_code or default_code
        if status == "FAILED" and failure is None:
            failure = "The task failed."
        progress = None
        if status == "RUNNING":  # required by SDK models while running
            progress = (
                job.progress
                if job.progress is not None
                else (1.0 if job.status is JobStatus.COPYING else 0.0)
            )
        finished = status in ("SUCCEEDED", "FAILED", "CANCELLED")
        return TaskView(
            id=job.job_id,
            status=status,
            created_at=job.created_at,
            progress=progress,
            estimated_cost=None if finished else EstimatedCost(credits=job.estimated_credits or 0.0),
            cost=FinalCost(credits=job.cost_credits or 0) if finished else None,
            output=[output.url for output in outputs] if status == "SUCCEEDED" else None,
            failure=failure if status == "FAILED" else None,
            failure_code=failure_code if status == "FAILED" else None,
            bridge=BridgeInfo(
                job_id=job.job_id,
                status=job.status,
                operation=job.operation,
                model=job.model,
                runway_task_id=job.runway_task_id,
                runway_status=job.runway_status,
                reference=job.bridge.reference,
                metadata=job.bridge.metadata,
                callback_url=job.bridge.callback_url,
                events=job.bridge.events,
                outputs=outputs,
                created_at=job.created_at,
                updated_at=job.updated_at,
                cancel_requested_at=job.cancel_requested_at,
            ),
        )

    # --- Steps ------------------------------------------------------------------------------

    def _finish_cancelled(self, job: Job) -> Job:
        now = self._clock()
        changes: Mapping[str, Any] = {"updated_at": now, "failure": None, "failure_code": None}
        future = job.model_copy(update={**changes, "status": JobStatus.CANCELLED})
        logger.info("job cancelled by its tenant", extra={"job_id": job.job_id})
        return self._jobs.transition(
            job,
            JobStatus.CANCELLED,
            changes=changes,
            remove=frozenset({"lease_owner", "lease_expires_at"}),
            event=terminal_event(future),
        )

    def _delete_finished(self, job: Job) -> None:
        # Outputs in the tenant's own bucket are the tenant's: they stay (its lifecycle rules apply;
        # the bridge holds no delete permission there). Those in the bridge's bucket go with the job.
        objects = [] if job.output_destination else [output.s3_uri for output in job.outputs]
        if job.request_s3_key is not None:
            objects.append(job.request_s3_key)
        if objects:
            self._objects.delete_objects(objects)
        # A concurrent DELETE may have won: that is the outcome the caller asked for.
        with contextlib.suppress(StoreConditionFailedError):
            self._jobs.delete(job)
        logger.info("finished job deleted by its tenant", extra={"job_id": job.job_id})


# Order of entries recorded at the same instant.
_TIMELINE_RANK: Final[dict[str, int]] = {
    "submitted": 0,
    "status": 1,
    "runway_task": 2,
    "notification": 3,
    "webhook_attempt": 4,
}


def timeline(
    job: Job, events: Sequence[OutboxEvent], attempts: Sequence[DeliveryAttempt]
) -> list[TimelineEntry]:
    """The job's life, oldest first: its creation, each status it entered (its `statusHistory`;
    a job recorded before the history existed has none), when its Runway task id became known
    (the first move to Runway's side after SUBMITTING), its notification events and its webhook
    attempts."""
    entries = [
        TimelineEntry(at=job.created_at, kind="submitted", detail=f"{job.operation} {job.model}"),
        *(
            TimelineEntry(at=change.at, kind="status", status=change.status.value)
            for change in job.status_history
        ),
        *(TimelineEntry(at=event.created_at, kind="notification", event_type=event.type) for event in events),
        *(
            TimelineEntry(
                at=attempt.at,
                kind="webhook_attempt",
                event_type=attempt.event_type,
                attempt=attempt.number,
                detail=_attempt_detail(attempt),
            )
            for attempt in attempts
        ),
    ]
    if job.runway_task_id is not None:
        known = next(
            (change.at for change in job.status_history if change.status in _WITH_TASK_ID),
            job.created_at if not job.status_history else job.updated_at,
        )
        entries.append(TimelineEntry(at=known, kind="runway_task", detail=job.runway_task_id))
    return sorted(entries, key=lambda entry: (entry.at, _TIMELINE_RANK[entry.kind]))


# Statuses a job only enters once Runway accepted its create (and so its task id is recorded).
_WITH_TASK_ID: Final = frozenset({*AT_RUNWAY, JobStatus.COPYING})


def _attempt_detail(attempt: DeliveryAttempt) -> str:
    answer = (
        f"HTTP {attempt.status_code}" if attempt.status_code is not None else (attempt.error or "no answer")
    )
    return (
        f"{answer} in {attempt.latency_ms} ms ({attempt.outcome})"
        if attempt.outcome
        else f"{answer} in {attempt.latency_ms} ms"
    )


def _plausible_id(job_id: str) -> bool:
    # Job ids are uuids; anything else cannot exist, so skip the read (and odd keys in DynamoDB).
    return 0 < len(job_id) <= 64 and all(ch.isalnum() or ch == "-" for ch in job_id)
