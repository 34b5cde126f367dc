"""The poller's own records (`PollerState`, which is also `RunwayCapacity`) over a `FakeJobStore`,
and a poller starter that only records."""

from __future__ import annotations

import time
from collections.abc import Sequence

from tests.unit.fakes.jobs import FakeJobStore

# Like the adapter: a queue read is dated a little early, for clock skew between writers.
ROSTER_SKEW_S = 2.0


class FakePollerState:
    def __init__(self, jobs: FakeJobStore) -> None:
        self._jobs = jobs
        self.run: tuple[str, float] | None = None  # (run id, held until)
        self.blocked_until = 0.0  # Runway answered 429
        self.busy_until = 0.0  # Runway holds tasks THROTTLED
        self.durations: dict[str, dict[int, int]] = {}  # learned priors: kind -> bucket -> count

    def duration_counts(self, key: str) -> dict[int, int]:
        return dict(self.durations.get(key, {}))

    def record_duration(self, key: str, bucket: int) -> None:
        counts = self.durations.setdefault(key, {})
        counts[bucket] = counts.get(bucket, 0) + 1

    def claim_run(self, run_id: str, *, now: float, hold_s: float) -> bool:
        if self.run is not None and self.run[1] >= now and self.run[0] != run_id:
            return False
        self.run = (run_id, now + hold_s)
        return True

    def release_run(self, run_id: str) -> None:
        if self.run is not None and self.run[0] == run_id:
            self.run = None

    def runway_held_until(self) -> float:
        return max(self.blocked_until, self.busy_until)

    def block_runway_until(self, until: float) -> None:
        self.blocked_until = max(self.blocked_until, until)  # never earlier

    def hold_runway_until(self, until: float) -> None:
        self.busy_until = max(self.busy_until, until)

    def earliest_due_at(self) -> float | None:
        return self._jobs.earliest_due_at()

    def queued_tenants(self) -> list[str]:
        return sorted(self._jobs.roster)

    def queue_head(self, tenant_id: str, *, limit: int) -> tuple[list[tuple[str, float]], float]:
        read_at = time.time() - ROSTER_SKEW_S
        head = [(job.job_id, job.next_poll_at or 0.0) for job in self._jobs.queued_jobs(tenant_id)[:limit]]
        return head, read_at

    def forget_queue(self, tenant_id: str, *, unless_touched_since: float) -> None:
        touched = self._jobs.roster.get(tenant_id)
        if touched is not None and touched < unless_touched_since:
            del self._jobs.roster[tenant_id]

    def in_flight(self, tenant_ids: Sequence[str]) -> dict[str, tuple[int, int | None]]:
        found: dict[str, tuple[int, int | None]] = {}
        for tenant in tenant_ids:
            counter = self._jobs.tenant_counter(tenant)
            if counter is not None:
                found[tenant] = counter
        return found


class RecordingPollerStarter:
    def __init__(self, *, fails: bool = False) -> None:
        self.started: list[str] = []
        self.fails = fails

    def start(self, job_id: str) -> None:
        self.started.append(job_id)
        if self.fails:
            raise RuntimeError("Step Functions refused the start (injected)")
