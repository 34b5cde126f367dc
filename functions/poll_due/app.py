"""Poller round (every round of statemachine/poller.asl.json).

Input: the run's state (`runId`, `startedAt`, `round`, optional `helper`). Checks every due job
(jobs at Runway, plus QUEUED ones admitted in turns across tenants while Runway has room) and
answers that state plus `copies` (a copy message per job Runway finished), `waitSeconds`
until the next job falls due, `done`, and `checks` (per job: outcome and status). Errors are
raised: the state machine retries the round, and a run that cannot poll ends; the next tick starts
a fresh one.
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
    state = get_poller_service().poll_round(
        run, time_left_s=lambda: context.get_remaining_time_in_millis() / 1000.0
    )
    logger.info(
        "poller round done",
        extra={
            "run_id": state["runId"],
            "round": state["round"],
            "checked": len(state["checks"]),
            "copies": len(state["copies"]),
            "wait_s": state["waitSeconds"],
            "done": state["done"],
            "reason": state.get("reason"),
        },
    )
    return state
