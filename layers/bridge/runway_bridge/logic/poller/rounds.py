"""One poller round in one invocation: plan it (plan.py), check its due jobs concurrently
(check.py), then decide when the next round starts."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from runway_bridge.logic.poller.check import JobChecker
from runway_bridge.logic.poller.core import CheckResult, Outcome
from runway_bridge.logic.poller.plan import RoundPlanner
from runway_bridge.observability import logger


class RoundRunner(RoundPlanner, JobChecker):
    def poll_round(
        self, run: Mapping[str, Any], *, time_left_s: Callable[[], float] | None = None
    ) -> dict[str, Any]:
        """Plan a round, check every due job it lists (`poller_check_concurrency` at a time), and
        return the run's next state: `copies` (a copy message per job Runway finished, with the
        output URLs it answered),
        `waitSeconds` until the next job falls due, `done`, and `checks` (one per job looked at).

        A check that raises leaves its job due and never fails the round. No
        check starts after `poller_round_max_s`, nor when the invocation has less time left than a
        check may take (`time_left_s`): the jobs left are still due, so the next round starts at
        once.
        """
        plan = self.plan_round(run)
        if plan["done"] or not plan["jobIds"]:
            return _round_state(plan, [])
        results = self._check_all(plan, time_left_s)
        return _round_state(self.wait_or_end(plan), results)

    def _check_all(
        self, plan: Mapping[str, Any], time_left_s: Callable[[], float] | None
    ) -> list[CheckResult]:
        settings = self._settings
        run_id = str(plan["runId"])
        queue_waiting = bool(plan["queueWaiting"])
        stop_at = time.monotonic() + settings.poller_round_max_s
        # The longest one check may take: a GET and a DELETE, or a deferred create.
        longest_check_s = max(2 * settings.poller_runway_budget_s, settings.poller_submit_budget_s)

        def check_one(job_id: str) -> CheckResult | None:
            if time.monotonic() >= stop_at or (time_left_s is not None and time_left_s() < longest_check_s):
                return None  # still due: the next round (at once) takes it
            try:
                return self.check(job_id, queue_waiting=queue_waiting)
            except Exception:  # noqa: BLE001 - the job stays due; the other checks go on
                logger.exception(
                    "check failed; the job stays due", extra={"job_id": job_id, "run_id": run_id}
                )
                return None

        job_ids = list(plan["jobIds"])
        with ThreadPoolExecutor(max_workers=min(settings.poller_check_concurrency, len(job_ids))) as pool:
            done = list(pool.map(check_one, job_ids))
        return [result for result in done if result is not None]


def _round_state(plan: Mapping[str, Any], results: list[CheckResult]) -> dict[str, Any]:
    copies = [result.copy_message().body() for result in results if result.outcome is Outcome.COPY]
    state = {key: value for key, value in plan.items() if key not in {"jobIds", "hasJobs", "queueDueAt"}}
    return {
        **state,
        "copies": copies,
        "hasCopies": bool(copies),
        "checks": [result.to_state() for result in results],
    }
