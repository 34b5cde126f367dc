"""The poller service's dependencies, shared by planning (plan.py) and checking (check.py)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from runway_bridge.logic.poller.policy import PollingPolicy
from runway_bridge.logic.ports import (
    Clock,
    JobStore,
    NoopPollerStarter,
    PollerStarter,
    PollerState,
    RunwayFactory,
)
from runway_bridge.logic.submission.service import SubmissionService
from runway_bridge.models.copy import CopyMessage
from runway_bridge.models.job import (
    Job,
)
from runway_bridge.models.runway import (
    Task,
)
from runway_bridge.settings import BridgeSettings


class Outcome(StrEnum):
    """What one check did; the state machine's Choice branches on it (every value is handled)."""

    COPY = "COPY"  # Runway SUCCEEDED: the job is COPYING; hand it to the copy queue
    TERMINAL = "TERMINAL"  # FAILED, CANCELLED, TIMED_OUT or SUBMISSION_UNKNOWN was written now
    RESCHEDULED = "RESCHEDULED"  # still going: progress and the next poll are stored
    UNKNOWN_STATUS = "UNKNOWN_STATUS"  # a status this code does not know: rescheduled and logged
    SUBMITTED = "SUBMITTED"  # a QUEUED job's create was sent (or it stays queued after a 429)
    RETRY_LATER = "RETRY_LATER"  # Runway could not be read now: looked at again soon
    SKIPPED = "SKIPPED"  # no longer due, changed meanwhile, finished, or gone


@dataclass(frozen=True)
class CheckResult:
    job_id: str
    outcome: Outcome
    status: str | None = None
    detail: str | None = None
    # COPY: the output URLs Runway answered with (none when a COPYING job is handed off again).
    outputs: tuple[str, ...] = ()

    def to_state(self) -> dict[str, Any]:
        """What the round reports of this check (small: no URLs)."""
        state: dict[str, Any] = {"jobId": self.job_id, "outcome": self.outcome.value}
        if self.status is not None:
            state["status"] = self.status
        return state

    def copy_message(self) -> CopyMessage:
        return CopyMessage(job_id=self.job_id, outputs=list(self.outputs))


class PollerCore:
    def __init__(
        self,
        *,
        jobs: JobStore,
        state: PollerState,
        submission: SubmissionService,
        runway_factory: RunwayFactory,
        settings: BridgeSettings,
        clock: Clock,
        policy: PollingPolicy | None = None,
        rng: random.Random | None = None,
        successor: PollerStarter | None = None,
    ) -> None:
        self._jobs = jobs
        self._state = state
        self._submission = submission
        self._runway_factory = runway_factory
        self._settings = settings
        self._clock = clock
        self._policy = policy or PollingPolicy(max_age_s=settings.job_timeout_s)
        self._rng = rng
        # Starts the next run when this one's time is up with jobs due (see RoundPlanner.plan_round).
        self._successor = successor or NoopPollerStarter()

    def _now(self) -> float:
        return _epoch(self._clock())


def _take_turns(
    queues: dict[str, list[str]], in_flight: dict[str, int], allowed: int, round_number: int
) -> list[str]:
    """Up to `allowed` job ids from the tenants' queues (each oldest first, emptied in place): each
    turn goes to the tenant with the fewest jobs in flight so far (admissions of this round count),
    ties taken in an order that moves every round. A tenant with one job running goes before one
    with a hundred, so a flood never takes the places freed by others' jobs."""
    order = sorted(queues)
    start = round_number % len(order)
    rank = {tenant: index for index, tenant in enumerate(order[start:] + order[:start])}
    running = dict(in_flight)
    admitted: list[str] = []
    while len(admitted) < allowed:
        waiting = [tenant for tenant in queues if queues[tenant]]
        if not waiting:
            break
        tenant = min(waiting, key=lambda name: (running.get(name, 0), rank[name]))
        admitted.append(queues[tenant].pop(0))
        running[tenant] = running.get(tenant, 0) + 1
    return admitted


def _earliest(first: float | None, second: float | None) -> float | None:
    if first is None:
        return second
    return first if second is None else min(first, second)


def _epoch(moment: datetime) -> float:
    return moment.timestamp()


def _looked(job: Job) -> dict[str, Any]:
    """Every answer Runway gave the poller counts, the one that found the task finished too."""
    return {"poll_count": job.poll_count + 1}


def _cost_changes(task: Task) -> dict[str, Any]:
    """Credits Runway reports (estimate while unfinished, final cost once done) for the task view."""
    changes: dict[str, Any] = {}
    if task.estimated_cost is not None:
        changes["estimated_credits"] = float(task.estimated_cost.credits)
    if task.cost is not None:
        changes["cost_credits"] = int(task.cost.credits)
    return changes


def _clip_seconds(job: Job) -> int | None:
    duration = (job.request_body or {}).get("duration")
    return duration if isinstance(duration, int) else None
