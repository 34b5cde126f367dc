"""Copier function: one SQS message `{"jobId": "<id>", "outputs": [...]}` per job the poller moved
to COPYING (`outputs`: the URLs Runway answered then; absent when a COPYING job is handed off again).

Each record is handled on its own (Powertools `BatchProcessor`, partial batch failures): a record
whose copy failed transiently is reported failed and comes back (sooner than the queue's long
visibility timeout: the logic's retry delay is set on the message); the others are deleted. The copy,
the checks and the job's status write are in `runway_bridge.logic.copy.job`.

Invoked directly (not by the queue) with `{"checkDestination": {"bucket", "prefix"}}`, it answers
whether it can write a tenant's outputs there (the key setup asks, so the check runs with this
function's own role).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from runway_bridge.errors import StoreUnavailableError
from runway_bridge.logic.copy.job import CopyResult, CopyRetryLater
from runway_bridge.logic.retry import backoff_delay_s
from runway_bridge.models.copy import CopyMessage, DestinationCheckRequest
from runway_bridge.observability import logger, metrics, tracer
from runway_bridge.settings import get_settings
from runway_bridge.wiring.copy import get_copier

processor = BatchProcessor(event_type=EventType.SQS)
# Seconds kept back from the Runway GET budget so the status write fits in the invocation.
RESERVED_S = 5.0


def copy_record(record: SQSRecord, lambda_context: LambdaContext | None = None) -> None:
    try:
        request = CopyMessage.model_validate_json(record.body)
    except ValidationError:
        # Unreadable: no retry can help. Back at once, so its deliveries run out quickly and it
        # waits in the dead-letter queue for a human.
        logger.error('copy message is not {"jobId": ...}', extra={"message_id": record.message_id})
        _retry_in(record, 0)
        raise
    delivery = int(record.attributes.approximate_receive_count or "1")
    logger.append_keys(job_id=request.job_id, delivery=delivery)
    settings = get_settings()
    budget_s = settings.copy_runway_budget_s
    if lambda_context is not None:
        budget_s = max(1.0, min(budget_s, lambda_context.get_remaining_time_in_millis() / 1000 - RESERVED_S))
    try:
        outcome = get_copier().service.copy(
            request.job_id,
            runway_budget_s=budget_s,
            last_attempt=delivery >= settings.copy_max_deliveries,
            output_urls=request.outputs,
            first_delivery=delivery == 1,
        )
    except CopyRetryLater as exc:
        delay = backoff_delay_s(delivery, base_s=settings.copy_retry_base_s, cap_s=settings.copy_retry_max_s)
        logger.warning("copy failed; retrying later", extra={"reason": str(exc), "retry_in_s": delay})
        metrics.add_metric(name="CopyRetried", unit="Count", value=1)
        _retry_in(record, delay)
        raise
    logger.info("copy handled", extra={"result": outcome.result.value, "detail": outcome.detail})
    metrics.add_metric(name=f"Copy{outcome.result.value.title()}", unit="Count", value=1)
    if outcome.result is CopyResult.SUCCEEDED:
        metrics.add_metric(
            name="CopiedBytes", unit="Bytes", value=sum(output.size for output in outcome.outputs)
        )


def _retry_in(record: SQSRecord, delay_s: float) -> None:
    try:
        get_copier().redelivery.retry_in(record.queue_url, record.receipt_handle, delay_s)
    except StoreUnavailableError:
        logger.exception("could not shorten the retry delay; the visibility timeout applies")


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(
    event: dict[str, Any], context: LambdaContext
) -> PartialItemFailureResponse | dict[str, Any]:
    if "Records" not in event:
        request = DestinationCheckRequest.model_validate(event)
        check = get_copier().service.check_destination(request.check_destination)
        return check.model_dump(mode="json")
    return process_partial_response(
        event=event, record_handler=copy_record, processor=processor, context=context
    )
