"""Submit function: a `Generation Requested` event on the bridge's bus runs the same submission logic
as `POST /v1/<operation>`.

EventBridge delivers at least once, so the logic dedupes on the event id. An event whose detail is
invalid is recorded with the reason and published as a rejection event (the logic does both): it is
answered, not raised, so EventBridge does not retry what can never succeed. Errors that may pass
(DynamoDB unavailable) are raised so EventBridge retries and finally dead-letters the event.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from runway_bridge.logic.deadline import remaining_ms_of, request_budget_s
from runway_bridge.logic.wiring import get_services
from runway_bridge.observability import logger, metrics, tracer
from runway_bridge.settings import get_settings


def detail_of(envelope: EventBridgeModel) -> dict[str, Any]:
    detail = envelope.detail
    if isinstance(detail, BaseModel):
        return detail.model_dump(by_alias=True)
    # EventBridge requires a JSON object as detail; anything else is handed on for the logic to refuse.
    return detail if isinstance(detail, dict) else {"detail": detail}


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The envelope (id, source, account, detail-type) is EventBridge's and always valid; the detail is
    # the caller's and is validated by the submission logic so a bad one can be recorded and answered.
    envelope = parse(event=event, model=EventBridgeModel)
    logger.append_keys(event_id=envelope.id, source=envelope.source)
    budget_s = request_budget_s(remaining_ms_of(context), get_settings())
    outcome = get_services().submission.submit_event(envelope.id, detail_of(envelope), budget_s=budget_s)
    return {key: value for key, value in asdict(outcome).items() if value is not None}
