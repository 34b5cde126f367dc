"""One job's output copy, as the copier function runs it for one `{"jobId"}` message.

The poller moves a job to COPYING when Runway reports SUCCEEDED and queues its id. Here the job's
Runway task is read again (output URLs are fetched fresh, not carried in the message: they expire),
every output is streamed into S3 (`copy_outputs.copy_task_outputs`), and the job ends SUCCEEDED with
its outputs, in one transaction with the `task.succeeded` outbox event.

Outcomes, by what a retry could change:
- nothing to do (the job is gone, or no longer COPYING: a duplicate or late message) → skipped;
- a failure a retry cannot fix (URLs still expired after fresh GETs, a 4xx from the output URL,
  the task deleted at Runway, a task that is not SUCCEEDED or has no output) → FAILED with
  `BRIDGE.COPY_FAILED` and its `task.failed` event;
- a failure that may pass (Runway or S3 unavailable, a download cut short) → `CopyRetryLater` for the
  queue to redeliver, except on the message's last delivery, where the job fails instead: a job never
  sits in COPYING because its message went to the dead-letter queue.

Two copies of one job at once (a duplicated message) are safe: the copy core's keys are
deterministic, and the status write is conditional on the version read, so one of them wins.

A job whose tenant has its own output destination (kept on the job since its create) is copied to
`<prefix>outputs/<jobId>/<index>.<ext>` in that bucket, the same way; a bucket the stack no longer
allows (OutputBuckets) fails the job at once. `check_destination` answers the key setup's question
"can the copier write there?" by making the copy's own S3 calls under the destination's prefix.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from runway_bridge.errors import (
    ObjectStoreError,
    OutputCopyError,
    OutputExpiredError,
    OutputFetchError,
    RunwayError,
    RunwayNotFoundError,
    StoreConditionFailedError,
    StoreUnavailableError,
)
from runway_bridge.logic.copy.streaming import (
    CopyPolicy,
    MultipartStore,
    OutputSource,
    check_writable,
    copy_task_outputs,
)
from runway_bridge.logic.ports import Clock, JobStore, RunwayFactory
from runway_bridge.models.copy import DestinationCheck
from runway_bridge.models.job import BRIDGE_COPY_FAILED, LEASE_FIELDS, Job, JobOutput, JobStatus
from runway_bridge.models.outbox import terminal_event
from runway_bridge.models.runway import SucceededTask, Task
from runway_bridge.models.tenant import OutputDestination
from runway_bridge.observability import logger

# A status write refused because the job changed meanwhile is tried again on the fresh record.
STATUS_WRITE_ATTEMPTS: Final = 3


class CopyResult(StrEnum):
    SUCCEEDED = "SUCCEEDED"  # outputs in S3, job SUCCEEDED (now, or by an earlier delivery)
    FAILED = "FAILED"  # the job ended FAILED with BRIDGE.COPY_FAILED
    SKIPPED = "SKIPPED"  # nothing to do: no such job, or not COPYING


@dataclass(frozen=True)
class CopyOutcome:
    job_id: str
    result: CopyResult
    detail: str
    outputs: tuple[JobOutput, ...] = ()


class CopyRetryLater(Exception):
    """The copy failed in a way a later delivery may not (the message must come back)."""


class _PermanentCopyFailure(Exception):
    """A failure no retry can fix; its message is shown to the caller as the job's `failure`."""


class CopyJobService:
    """Copies one COPYING job's outputs and records the outcome. Dependencies are injected; the
    deployed ones are wired in `wiring/copy.py`."""

    def __init__(
        self,
        *,
        jobs: JobStore,
        runway_factory: RunwayFactory,
        source: OutputSource,
        store: MultipartStore,
        policy: CopyPolicy,
        clock: Clock,
        tenant_store: Callable[[str], MultipartStore] | None = None,
        output_buckets: frozenset[str] = frozenset(),
    ) -> None:
        """`store`: the bridge's bucket. `tenant_store(bucket)`: a tenant's own bucket (its default
        encryption applies), for the buckets in `output_buckets` (the stack's OutputBuckets)."""
        self._jobs = jobs
        self._runway_factory = runway_factory
        self._source = source
        self._store = store
        self._policy = policy
        self._clock = clock
        self._tenant_store = tenant_store
        self._output_buckets = output_buckets

    def copy(
        self,
        job_id: str,
        *,
        runway_budget_s: float,
        last_attempt: bool,
        output_urls: Sequence[str] = (),
        first_delivery: bool = False,
    ) -> CopyOutcome:
        """Copy `job_id`'s outputs. `runway_budget_s` bounds each Runway GET; `last_attempt` says
        the queue will not deliver this message again (a transient failure then fails the job);
        `output_urls` are the URLs Runway answered when the poller saw the task finish (the task is
        read again only without them, or when they have expired). `first_delivery` with
        `output_urls`: the poller's hand-off arriving for the first time, so no earlier copy of the
        job can exist (a watchdog's second hand-off carries no URLs).

        Raises `CopyRetryLater` when the message should come back; `StoreUnavailableError` when
        DynamoDB failed (the message comes back too)."""
        job = self._jobs.get(job_id)
        if job is None:
            return CopyOutcome(job_id, CopyResult.SKIPPED, "no such job (deleted)")
        if job.status is not JobStatus.COPYING:
            return self._not_copying(job)
        try:
            outputs = self._copy_outputs(
                job, runway_budget_s, output_urls, first_attempt=first_delivery and bool(output_urls)
            )
        except _PermanentCopyFailure as exc:
            return self._fail(job, str(exc))
        except (RunwayError, OutputCopyError) as exc:
            reason = _describe(exc)
            if last_attempt:
                return self._fail(job, f"The outputs could not be copied after repeated attempts: {reason}")
            raise CopyRetryLater(reason) from exc
        return self._succeed(job, outputs)

    # --- the copy -----------------------------------------------------------------------------

    def _copy_outputs(
        self, job: Job, runway_budget_s: float, known_urls: Sequence[str], *, first_attempt: bool
    ) -> list[JobOutput]:
        task_id = job.runway_task_id
        if task_id is None:
            raise _PermanentCopyFailure("The job has no Runway task to copy outputs from.")

        store, key_prefix = self._destination(job.output_destination)

        def current_urls() -> list[str]:
            return self._output_urls(task_id, runway_budget_s)

        try:
            return copy_task_outputs(
                job_id=job.job_id,
                task_id=task_id,
                output_urls=list(known_urls) or current_urls(),
                refresh_urls=current_urls,
                source=self._source,
                store=store,
                recorded=job.outputs,
                policy=self._policy,
                first_attempt=first_attempt,
                key_prefix=key_prefix,
            )
        except OutputExpiredError as exc:
            raise _PermanentCopyFailure(
                f"Runway's output URLs stayed expired after fresh reads of the task: {exc.message}"
            ) from exc
        except OutputFetchError as exc:
            if exc.retryable:
                raise
            raise _PermanentCopyFailure(f"An output could not be downloaded: {exc.message}") from exc

    def _destination(self, destination: OutputDestination | None) -> tuple[MultipartStore, str]:
        """The store and key prefix a job's outputs go to."""
        if destination is None:
            return self._store, ""
        if destination.bucket not in self._output_buckets or self._tenant_store is None:
            raise _PermanentCopyFailure(
                f"The tenant's output bucket {destination.bucket} is no longer allowed by the bridge "
                "(OutputBuckets); nothing was copied."
            )
        return self._tenant_store(destination.bucket), destination.prefix

    # --- the key setup's write check --------------------------------------------------------

    def check_destination(self, destination: OutputDestination) -> DestinationCheck:
        """Can this copier write a tenant's outputs to `destination`? Refused unless its bucket is
        in `output_buckets`; then the copy's own S3 calls are made on one small object under the
        prefix (it stays there: the copier has no delete permission)."""
        if destination.bucket not in self._output_buckets or self._tenant_store is None:
            allowed = ", ".join(sorted(self._output_buckets)) or "none"
            return DestinationCheck(
                code="not_allowed",
                message=(
                    f"bucket {destination.bucket} is not in the stack's OutputBuckets (allowed: {allowed})"
                ),
            )
        try:
            written = check_writable(self._tenant_store(destination.bucket), destination.prefix)
        except ObjectStoreError as exc:
            logger.warning(
                "output destination not writable",
                extra={"destination": destination.uri, "error": exc.message},
            )
            return DestinationCheck(
                code="not_writable", message=f"the copier cannot write to {destination.uri}: {exc.message}"
            )
        return DestinationCheck(code="writable", message=f"the copier wrote {written}")

    def _output_urls(self, task_id: str, budget_s: float) -> list[str]:
        try:
            task: Task = self._runway_factory().get_task(task_id, budget_s=budget_s)
        except RunwayNotFoundError as exc:
            raise _PermanentCopyFailure("The task no longer exists at Runway; its outputs are gone.") from exc
        if not isinstance(task, SucceededTask):
            raise _PermanentCopyFailure(f"Runway reports the task as {task.status}, not SUCCEEDED.")
        if not task.output:
            raise _PermanentCopyFailure("Runway reports the task as SUCCEEDED without any output.")
        return list(task.output)

    # --- recording the outcome ----------------------------------------------------------------

    def _succeed(self, job: Job, outputs: Sequence[JobOutput]) -> CopyOutcome:
        def write(current: Job) -> Job:
            now = self._clock()
            changes = {
                "updated_at": now,
                "outputs": list(outputs),
                "runway_status": "SUCCEEDED",
                "progress": 1.0,
                "failure": None,
                "failure_code": None,
            }
            future = current.model_copy(update={**changes, "status": JobStatus.SUCCEEDED})
            return self._jobs.transition(
                current,
                JobStatus.SUCCEEDED,
                changes=changes,
                remove=LEASE_FIELDS,
                event=terminal_event(future),
            )

        stored = self._write_terminal(job, write)
        if stored is None:
            return self._not_copying(self._jobs.get(job.job_id), job.job_id)
        return CopyOutcome(
            job.job_id, CopyResult.SUCCEEDED, f"{len(outputs)} output(s) copied", tuple(stored.outputs)
        )

    def _fail(self, job: Job, failure: str) -> CopyOutcome:
        def write(current: Job) -> Job:
            changes = {"updated_at": self._clock(), "failure": failure, "failure_code": BRIDGE_COPY_FAILED}
            future = current.model_copy(update={**changes, "status": JobStatus.FAILED})
            return self._jobs.transition(
                current, JobStatus.FAILED, changes=changes, remove=LEASE_FIELDS, event=terminal_event(future)
            )

        stored = self._write_terminal(job, write)
        if stored is None:
            return self._not_copying(self._jobs.get(job.job_id), job.job_id)
        return CopyOutcome(job.job_id, CopyResult.FAILED, failure)

    def _write_terminal(self, job: Job, write: Callable[[Job], Job]) -> Job | None:
        """Write a terminal status on the freshest record; None when the job left COPYING meanwhile
        (another delivery finished it, or it was deleted)."""
        current: Job | None = job
        for _ in range(STATUS_WRITE_ATTEMPTS):
            if current is None or current.status is not JobStatus.COPYING:
                return None
            try:
                return write(current)
            except StoreConditionFailedError:
                # Something else touched the record (a lease, another delivery): read it again.
                current = self._jobs.get(job.job_id)
        raise StoreUnavailableError(f"job {job.job_id} kept changing while its copy was recorded")

    @staticmethod
    def _not_copying(job: Job | None, job_id: str | None = None) -> CopyOutcome:
        if job is None:
            return CopyOutcome(job_id or "", CopyResult.SKIPPED, "no such job (deleted)")
        if job.status is JobStatus.SUCCEEDED:
            return CopyOutcome(job.job_id, CopyResult.SKIPPED, "already SUCCEEDED", tuple(job.outputs))
        return CopyOutcome(job.job_id, CopyResult.SKIPPED, f"job is {job.status.value}, not COPYING")


def _describe(exc: RunwayError | OutputCopyError) -> str:
    where = (
        "Runway"
        if isinstance(exc, RunwayError)
        else "S3"
        if isinstance(exc, ObjectStoreError)
        else "output URL"
    )
    return f"{where}: {exc.message}"
