"""The poller's path: send a QUEUED job's create when its turn comes (a SUBMITTING job whose
submitter's lease expired is settled by `SubmissionCore.resolve_expired_submission`)."""

from __future__ import annotations

import json
from typing import cast

from runway_bridge.errors import InputRefusedError
from runway_bridge.logic.submission.core import SubmissionCore
from runway_bridge.logic.submission.inputs import INPUT_FORBIDDEN, INPUT_NOT_FOUND
from runway_bridge.models.job import (
    BRIDGE_INPUT_EXPIRED,
    BRIDGE_INPUT_MISSING,
    BRIDGE_INPUT_REFUSED,
    LEASE_FIELDS,
    Job,
    JobStatus,
)


class QueuedSubmission(SubmissionCore):
    def submit_queued(self, job_id: str, *, budget_s: float) -> Job | None:
        """Send a QUEUED job's create (after a daily-cap 429, or a submit that stopped before the
        POST). None if there is no such job; other statuses are returned unchanged."""
        job = self._jobs.get(job_id)
        if job is None or job.status is not JobStatus.QUEUED:
            return job
        if job.cancel_requested_at is not None:
            # Its caller cancelled it while its create was being refused: never send it now.
            return self._finish(job, JobStatus.CANCELLED, remove=LEASE_FIELDS)
        now = self._clock()
        body_text = json.dumps(job.request_body) if job.request_body is not None else ""
        if job.request_s3_key is not None or job.request_body is None:
            body = self._objects.get_request_body(cast(str, job.request_s3_key))
            body_text = json.dumps(body)
        else:
            body = job.request_body
        if (
            "runway://" in body_text
            and (now - job.created_at).total_seconds() > self._settings.input_max_age_s
        ):
            return self._finish(
                job,
                JobStatus.FAILED,
                failure="An uploaded runway:// input expired before Runway could accept the job.",
                failure_code=BRIDGE_INPUT_EXPIRED,
            )
        try:
            # The s3:// objects it names may have gone (or changed) since it was accepted.
            self._inputs.check(job.operation, body)
        except InputRefusedError as exc:
            gone = exc.code in (INPUT_NOT_FOUND, INPUT_FORBIDDEN)
            return self._finish(
                job,
                JobStatus.FAILED,
                failure=f"An s3:// input can no longer be sent to Runway; nothing was sent. {exc.message}",
                failure_code=BRIDGE_INPUT_MISSING if gone else BRIDGE_INPUT_REFUSED,
            )
        return self._send_safely(job, body, budget_s=budget_s, limits=self._tenants.limits(job.tenant_id))
