"""What the copier tests share: the copier over fakes."""

from __future__ import annotations

from collections.abc import Callable

from runway_bridge.logic.copy.job import CopyJobService, CopyResult
from runway_bridge.logic.copy.streaming import CopyPolicy, MultipartStore
from runway_bridge.models.job import Job
from tests.unit.fakes import FakeClock, FakeJobStore, FakeMultipartStore, FakeOutputSource, ScriptedRunway


class CopyWorld:
    """`CopyJobService` over a fake job store, Runway, output URLs and the bridge's bucket (`store`);
    `tenant_store` and `output_buckets` as the service takes them (tenants' own buckets)."""

    def __init__(
        self,
        *,
        tenant_store: Callable[[str], MultipartStore] | None = None,
        output_buckets: frozenset[str] = frozenset(),
    ) -> None:
        self.jobs = FakeJobStore()
        self.runway = ScriptedRunway()
        self.source = FakeOutputSource()
        self.store = FakeMultipartStore()
        self.copier = CopyJobService(
            jobs=self.jobs,
            runway_factory=lambda: self.runway,
            source=self.source,
            store=self.store,
            policy=CopyPolicy(max_fetch_attempts=2, sleep=lambda seconds: None),
            clock=FakeClock(),
            tenant_store=tenant_store,
            output_buckets=output_buckets,
        )

    def copy(self, job: Job, *, last_attempt: bool = False) -> tuple[CopyResult, Job]:
        """One delivery of the job's copy; its result and the job as stored afterwards."""
        outcome = self.copier.copy(job.job_id, runway_budget_s=5, last_attempt=last_attempt)
        after = self.jobs.get(job.job_id)
        assert after is not None
        return outcome.result, after
