"""Submit function: a `Generation Requested` event on the bridge's bus runs the same submission logic
as `POST /v1/<operation>`.

The rule matches the submit source (`runway-bridge.requests`) and the detail-type; the bus policy
limits who may put such events. EventBridge delivers at least once, so the logic dedupes on the event
id. An event whose detail is invalid, or whose tenant holds no live key, is recorded with the reason
and published as a rejection event (the logic does both): it is answered, not raised, so nothing
retries what can never succeed.

What happens to a raised error (DynamoDB unavailable): EventBridge invokes this function
asynchronously, so once Lambda has accepted the event the rule's retry policy and dead-letter queue
no longer apply (they cover delivery to Lambda only). Lambda retries the invocation twice
(EventInvokeConfig MaximumRetryAttempts 2, within an hour), then sends the invocation record with the
event to the on-failure destination, `SubmitEventFailureQueue`, whose alarm notifies AlarmsTopic.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from runway_bridge.logic.deadline import remaining_ms_of, request_budget_s
from runway_bridge.observability import logger, metrics, tracer
from runway_bridge.settings import get_settings
from runway_bridge.wiring.submit_event import get_event_submission


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
    outcome = get_event_submission().submit_event(envelope.id, detail_of(envelope), budget_s=budget_s)
    return {key: value for key, value in asdict(outcome).items() if value is not None}
