"""Poller round planner (first step of every round of statemachine/poller.asl.json).

Input: the run's state (`runId`, `startedAt`, `round`, optional `helper`). Output: that state plus
`jobIds` (due job ids only: the Map carries ids, never jobs), `hasJobs`, `waitSeconds` and `done`.
Jobs at Runway are listed apart from the QUEUED backlog; queued jobs are admitted in turns across
tenants, only while Runway has room. Errors are raised: the state machine
retries the step, and a run that cannot plan ends; the next tick starts a fresh one.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from runway_bridge.observability import logger, metrics, tracer
from runway_bridge.wiring.poller import get_poller_service


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    run = event if isinstance(event, dict) else {}
    plan = get_poller_service().plan_round(run)
    logger.info(
        "poller round planned",
        extra={
            "run_id": plan["runId"],
            "round": plan["round"],
            "due": len(plan["jobIds"]),
            "done": plan["done"],
            "reason": plan.get("reason"),
        },
    )
    return plan
