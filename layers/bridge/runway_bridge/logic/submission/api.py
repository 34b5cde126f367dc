"""The API path: `POST /v1/<operation>` from a tenant (the official SDK, curl, the CLI)."""

from __future__ import annotations

from typing import Any

from runway_bridge.errors import (
    IdempotencyConflictError,
    StoreConditionFailedError,
    UsageLimitReachedError,
)
from runway_bridge.logic.submission.core import SubmissionCore, SubmitResult, check_idempotency_key
from runway_bridge.models.job import (
    JobStatus,
    job_id_for,
)
from runway_bridge.models.tenant import (
    DailyUsage,
    charge_for,
)
from runway_bridge.observability import logger


class ApiSubmission(SubmissionCore):
    def submit(
        self,
        tenant_id: str,
        operation: str,
        raw_body: Any,
        idempotency_key: str | None = None,
        *,
        budget_s: float | None = None,
    ) -> SubmitResult:
        """Validate, record, and send one create to Runway.

        Raises, before anything is stored: `InvalidRequestError` (400; incl.
        `CallbackUrlRefusedError`, and `InputRefusedError` for an `s3://` input it will not send),
        `IdempotencyMismatchError` (422: the key was used for another body),
        `IdempotencyConflictError` (409: the key's first request is still submitting).
        `StoreUnavailableError` if the job could not be recorded at all. Once the job is recorded,
        it returns: Runway's outcome is the job's status (PENDING, QUEUED after a 429,
        FAILED when Runway refused the body, SUBMISSION_UNKNOWN when the create may have happened,
        SUBMITTING when Runway accepted but the task id was not recorded in time: the poller
        records it from the hand-off).
        `budget_s`: seconds this call may take in all, every write included (the handler derives it
        from the invocation's remaining time, see logic/deadline.py; default `api_submit_budget_s`).
        """
        started = self._monotonic()
        budget = self._settings.api_submit_budget_s if budget_s is None else budget_s
        request = self._prepare(operation, raw_body)
        if idempotency_key is not None:
            check_idempotency_key(idempotency_key)
        job_id = job_id_for(tenant_id, idempotency_key)
        if idempotency_key is not None:
            existing = self._jobs.get(job_id)
            if existing is not None:
                return self._replay(existing, request)
        # Each s3:// input: an allowed bucket, an object there, of the field's kind, small enough.
        self._inputs.check(request.operation, request.runway_body)

        # One read for both: the limits, and where the job's outputs go (kept on the job).
        profile = self._tenants.profile(tenant_id)
        limits = profile.limits
        charge = charge_for(
            request.operation,
            request.model,
            request.runway_body,
            at=self._clock(),
            credit_prices=self._settings.credit_prices,
        )
        self._refuse_over_daily_limit(tenant_id, limits, charge, DailyUsage(day=charge.day))
        hold = self._hold_reason(tenant_id, limits)
        job = self._new_job(
            job_id,
            tenant_id,
            request,
            idempotency_key,
            charge=charge,
            hold=hold,
            output_destination=profile.output_destination,
        )
        try:
            self._jobs.create(job, limits=limits)
        except UsageLimitReachedError:
            used = self._jobs.daily_usage(tenant_id, charge.day)
            self._refuse_over_daily_limit(tenant_id, limits, charge, used, certain=True)
            raise  # unreachable: the line above raises
        except StoreConditionFailedError:
            # A racing request with the same key created it first.
            existing = self._jobs.get(job_id)
            if existing is None:  # created and deleted in between: treat as in flight
                raise IdempotencyConflictError(
                    "A request with this Idempotency-Key is being processed; retry shortly."
                ) from None
            return self._replay(existing, request)

        if hold is not None:
            # Waits its turn: the poller admits queued jobs in order, taking turns across tenants.
            logger.info("job queued", extra={"job_id": job_id, "reason": hold})
            self._start_poller(job_id)
            return SubmitResult(job_id, JobStatus.QUEUED, created=True)
        remaining = budget - (self._monotonic() - started)
        final = self._send_safely(job, request.runway_body, budget_s=remaining, limits=limits)
        if final.status is JobStatus.QUEUED:
            # Not sent (Runway answered 429, too little time left, or no client): a poller run sends
            # it when it may, now rather than at the next minute tick.
            self._start_poller(job_id, wait_s=budget - (self._monotonic() - started))
        return SubmitResult(job_id, final.status, created=True, runway_task_id=final.runway_task_id)
