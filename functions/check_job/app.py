"""Poller check of one job (the Map iteration of statemachine/poller.asl.json).

Input `{"jobId", "runId", "queueWaiting"}` (`queueWaiting`: queued jobs wait for a place at Runway,
so a running task is looked at again sooner). Takes the job's lease, reads the task at Runway and
stores what follows (logic/poller/service.py); answers `{"jobId", "outcome", "status"}` plus `copyMessage`
when the job is to be handed to the copy queue. Errors (DynamoDB unavailable) are raised: the state
machine retries the step, and a job whose step still fails stays due for a later round.
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
    job_id = str(event["jobId"])
    run_id = str(event.get("runId") or "unnamed-run")
    logger.append_keys(job_id=job_id, run_id=run_id)
    result = get_poller_service().check(job_id, run_id, queue_waiting=bool(event.get("queueWaiting")))
    logger.info("job checked", extra={"outcome": result.outcome.value, "status": result.status})
    return result.to_state()
