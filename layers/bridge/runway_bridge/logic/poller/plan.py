"""One round: which jobs it looks at (`plan_round`): the jobs at Runway first, then queued jobs
admitted in turns across tenants while Runway has room."""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from typing import Any

from runway_bridge.logic.poller.core import PollerCore, _earliest, _take_turns
from runway_bridge.observability import logger


class RoundPlanner(PollerCore):
    # --- one round --------------------------------------------------------------------------

    def plan_round(self, run: Mapping[str, Any]) -> dict[str, Any]:
        """The next round of a run: the due job ids, or `done` when the run should end.

        `run` is the execution's state: `runId` (the scheduler and the submit path name it; a
        missing one is made here), `startedAt`, `round`, and `helper` (a run that helps with a
        backlog without taking the run marker). A run ends when another live run holds the marker,
        when its time is up, or when no job is due before its time would be up.
        """
        now = self._now()
        settings = self._settings
        run_id = str(run.get("runId") or f"run-{uuid.uuid4()}")
        started_at = float(run.get("startedAt") or now)
        helper = bool(run.get("helper", False))
        round_number = int(run.get("round") or 0) + 1
        plan: dict[str, Any] = {
            "runId": run_id,
            "startedAt": started_at,
            "round": round_number,
            "helper": helper,
            # Until when this run's marker is held (the state machine carries it to the next round).
            "heldUntil": 0.0,
            "jobIds": [],
            "hasJobs": False,
            "done": False,
            "waitSeconds": 0,
            "reason": "",
            # Queued jobs wait for a place at Runway: this round's checks look at running tasks
            # sooner, so a place Runway frees is noticed and used at once.
            "queueWaiting": False,
            # When the next QUEUED job falls due (None: none waits), for the wait after the checks.
            "queueDueAt": None,
        }
        if not helper:
            # The marker is renewed once half its hold has passed, not every round: while it holds,
            # no other run can have taken it (only an expired marker changes hands).
            held_until = float(run.get("heldUntil") or 0.0)
            if held_until - now < settings.poller_run_hold_s / 2:
                if not self._state.claim_run(run_id, now=now, hold_s=settings.poller_run_hold_s):
                    return {**plan, "done": True, "reason": "another run is active"}
                held_until = now + settings.poller_run_hold_s
            plan["heldUntil"] = held_until
        deadline = started_at + settings.poller_run_max_s
        if now >= deadline:
            self._end_run(run_id, helper)
            if not helper:
                self._hand_over(run_id, now)
            return {**plan, "done": True, "reason": "run time is up"}

        job_ids = self._jobs.due_job_ids(
            now=now + settings.poller_early_s, limit=settings.poller_max_jobs_per_round
        )
        admitted, queue_due_at, waiting = self._admit_queued(now, round_number)
        job_ids = job_ids + admitted
        plan["queueWaiting"] = waiting
        plan["queueDueAt"] = queue_due_at
        if job_ids:
            return {**plan, "jobIds": job_ids, "hasJobs": True}
        return self.wait_or_end(plan)

    def wait_or_end(self, plan: dict[str, Any]) -> dict[str, Any]:
        """`plan` with the wait until its run's next round, or `done` when nothing falls due before
        the run's time is up. The wait ends when the next job falls due (whole seconds: a round
        also takes jobs due within `poller_early_s`), so no due job waits for a
        fixed round; while queued jobs wait for Runway's room, the next round comes within
        `poller_busy_poll_s`."""
        settings = self._settings
        now = self._now()
        run_id, helper = str(plan["runId"]), bool(plan["helper"])
        deadline = float(plan["startedAt"]) + settings.poller_run_max_s
        queue_due_at = plan.get("queueDueAt")
        earliest = _earliest(self._state.earliest_due_at(), queue_due_at)
        if earliest is None or earliest > deadline:
            self._end_run(run_id, helper)
            # A job recorded while this run was deciding may have found the marker still held and
            # started nothing: look once more after letting the marker go.
            earliest = _earliest(self._state.earliest_due_at(), queue_due_at)
            if (
                earliest is None
                or earliest > deadline
                or helper
                or not self._state.claim_run(run_id, now=self._now(), hold_s=settings.poller_run_hold_s)
            ):
                if not helper and earliest is not None:
                    # Due just after this run's end: the next run starts now (its first round waits
                    # for it) rather than at the next minute tick.
                    self._hand_over(run_id, now, due_at=earliest)
                return {**plan, "done": True, "waitSeconds": 0, "reason": "nothing due before the run ends"}
            plan = {**plan, "heldUntil": self._now() + settings.poller_run_hold_s}
        # The first whole second at which the next job is within `poller_early_s` of due: each job
        # is looked at within half a second of when its policy asked (a later look costs notice,
        # an earlier one a wasted read).
        wait = min(
            max(math.ceil(earliest - settings.poller_early_s - now), 0), settings.poller_idle_wait_max_s
        )
        if plan["queueWaiting"]:
            wait = min(wait, max(math.floor(settings.poller_busy_poll_s), 1))
        return {**plan, "waitSeconds": wait}

    def _hand_over(self, run_id: str, now: float, due_at: float | None = None) -> None:
        """A run lasts `poller_run_max_s` (an Express execution may not pass 5 minutes). When jobs
        are due before the next scheduled tick (or wait queued), the ending run starts its
        successor now instead of leaving them up to a minute without a look. `due_at`: the earliest
        due moment when the caller has just read it (else it is read here)."""
        if due_at is None:
            due_at = self._state.earliest_due_at()
        due_soon = due_at is not None and due_at <= now + self._settings.poller_handover_window_s
        if not due_soon and not self._state.queued_tenants():
            return
        try:
            self._successor.start(f"after-{run_id}")
        except Exception:  # noqa: BLE001 - the minute tick starts the next run anyway
            logger.exception("could not start the next poller run", extra={"run_id": run_id})

    def _admit_queued(self, now: float, round_number: int) -> tuple[list[str], float | None, bool]:
        """QUEUED job ids to send this round, in turns across tenants; when the next queued job
        becomes due (for the run's wait); and whether due jobs are left waiting for a place our own
        limits keep (a running task's end frees it). Nothing is admitted while Runway has no room."""
        settings = self._settings
        tenants = sorted(self._state.queued_tenants())
        if not tenants:
            return [], None, False
        held_until = self._state.runway_held_until()
        in_flight = self._state.in_flight(tenants)
        queues: dict[str, list[str]] = {}
        next_due: float | None = held_until if held_until > now else None
        for tenant in tenants:
            head, read_at = self._state.queue_head(tenant, limit=settings.poller_queue_read_per_tenant)
            if not head:
                self._state.forget_queue(tenant, unless_touched_since=read_at)
                continue
            due = [job_id for job_id, due_at in head if due_at <= now]
            later = [due_at for _, due_at in head if due_at > now]
            if later:
                next_due = _earliest(next_due, min(later))
            used, limit = in_flight.get(tenant, (0, None))
            room = len(due) if limit is None else max(limit - used, 0)
            if due and room > 0:
                queues[tenant] = due[:room]
            elif due:
                next_due = _earliest(next_due, now + settings.poller_wait_s)
        if held_until > now or not queues:
            # Held by Runway (a 429, or a task it keeps THROTTLED): the place opens when the hold
            # ends or that task's next look says so, not when a running task of ours finishes, so
            # running tasks are not looked at any sooner for it.
            return [], next_due, False
        allowed = settings.poller_queued_per_round
        if settings.runway_max_in_flight:
            allowed = min(allowed, max(settings.runway_max_in_flight - self._jobs.runway_in_flight(), 0))
        admitted = _take_turns(
            queues, {tenant: in_flight.get(tenant, (0, None))[0] for tenant in queues}, allowed, round_number
        )
        waiting = any(queues.values())
        if waiting:
            next_due = _earliest(next_due, now + settings.poller_busy_poll_s)
        return admitted, next_due, waiting

    def _end_run(self, run_id: str, helper: bool) -> None:
        if not helper:
            self._state.release_run(run_id)
