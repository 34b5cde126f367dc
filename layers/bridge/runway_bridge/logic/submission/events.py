"""The EventBridge path: a "Generation Requested" event from another AWS service."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from runway_bridge.errors import (
    DailyLimitExceededError,
    IdempotencyMismatchError,
    InvalidRequestError,
)
from runway_bridge.logic.submission.api import ApiSubmission
from runway_bridge.logic.submission.core import EventSubmitResult
from runway_bridge.models.api import BRIDGE_REFERENCE_FIELD
from runway_bridge.models.outbox import (
    GenerationRejectedDetail,
    GenerationRequestedDetail,
)
from runway_bridge.models.records import EventMarker
from runway_bridge.models.runway import (
    describe_validation_error,
)
from runway_bridge.observability import logger


class EventSubmission(ApiSubmission):
    """A bus event is submitted as an API create keyed by its event id, or recorded as rejected."""

    def submit_event(
        self, event_id: str, detail: Mapping[str, Any], *, budget_s: float | None = None
    ) -> EventSubmitResult:
        """Submit the request carried by a "Generation Requested" event.

        EventBridge delivers at least once. A redelivered valid event maps to the same job (its
        Idempotency-Key defaults to the event id); a redelivered invalid one is recognised by its
        recorded marker and not published twice. An invalid event is recorded with its reason and
        announced as "Generation Rejected" (never silently dropped). `IdempotencyConflictError`
        propagates so the event is retried once the first delivery has finished submitting.
        """
        marker = self._jobs.get_event(event_id)
        if marker is not None:
            job = self._jobs.get(marker.job_id) if marker.job_id else None
            return EventSubmitResult(
                event_id=event_id,
                job_id=marker.job_id,
                status=job.status if job else None,
                reference=job.bridge.reference if job else None,
                duplicate=True,
                rejection_code=marker.rejection_code,
                rejection_reason=marker.rejection_reason,
            )
        reference = _reference_of(detail)
        tenant_hint = detail.get("tenantId") if isinstance(detail.get("tenantId"), str) else None
        try:
            request = GenerationRequestedDetail.model_validate(detail)
        except ValidationError as exc:
            return self._reject(
                event_id, tenant_hint, reference, "invalid_event", describe_validation_error(exc)
            )
        if not self._tenants.tenant_active(request.tenant_id):
            # The tenant id is the caller's word: only a tenant the bridge issued a live key to
            # may have jobs (and spend credits) on its behalf.
            return self._reject(
                event_id,
                request.tenant_id,
                reference,
                "unknown_tenant",
                f"tenant {request.tenant_id!r} is unknown or has no active API key",
            )
        key = request.idempotency_key or f"event:{event_id}"
        try:
            result = self.submit(request.tenant_id, request.operation, request.body, key, budget_s=budget_s)
        except (InvalidRequestError, IdempotencyMismatchError, DailyLimitExceededError) as exc:
            # A daily limit holds until midnight (UTC): EventBridge's retries could not help.
            return self._reject(event_id, request.tenant_id, reference, exc.code, exc.message)
        self._jobs.record_event(
            EventMarker(event_id=event_id, job_id=result.job_id, rejection_code=None, rejection_reason=None)
        )
        return EventSubmitResult(
            event_id=event_id,
            job_id=result.job_id,
            status=result.status,
            reference=reference,
            duplicate=not result.created,
        )

    def _reject(
        self, event_id: str, tenant_id: str | None, reference: str | None, code: str, reason: str
    ) -> EventSubmitResult:
        # Publish first, then record: a crash in between republishes on redelivery (receivers
        # dedupe on sourceEventId), whereas the other order could lose the rejection for good.
        self._rejections.publish_rejection(
            GenerationRejectedDetail(
                source_event_id=event_id, tenant_id=tenant_id, reference=reference, code=code, reason=reason
            )
        )
        first = self._jobs.record_event(
            EventMarker(event_id=event_id, job_id=None, rejection_code=code, rejection_reason=reason)
        )
        logger.warning(
            "generation request rejected", extra={"event_id": event_id, "code": code, "reason": reason}
        )
        return EventSubmitResult(
            event_id=event_id,
            job_id=None,
            status=None,
            reference=reference,
            duplicate=not first,
            rejection_code=code,
            rejection_reason=reason,
        )


def _reference_of(detail: Mapping[str, Any]) -> str | None:
    """The caller's reference in an event, even an invalid one (so a rejection can carry it)."""
    body = detail.get("body")
    if not isinstance(body, Mapping):
        return None
    for name in (BRIDGE_REFERENCE_FIELD, "reference"):
        if isinstance(body.get(name), str):
            return str(body[name])
    return None
