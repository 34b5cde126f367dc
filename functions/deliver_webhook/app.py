"""Webhook delivery function: one SQS message per (event, callback) delivery.

Each record is one attempt (Powertools `BatchProcessor`, partial batch failures). The attempt number
is the message's receive count: a failed attempt makes the message visible again after the schedule's
next delay (ChangeMessageVisibility, so steps beyond SQS's 900 s delay limit work) and reports the record
failed; delivered, stopped (410) and exhausted (dead-lettered by the logic) records are deleted.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from runway_bridge.errors import StoreUnavailableError
from runway_bridge.logic.notifications.delivery import DeliveryOutcome
from runway_bridge.models.notification import WebhookMessage
from runway_bridge.observability import logger, metrics, tracer
from runway_bridge.wiring.notifications import get_delivery

processor = BatchProcessor(event_type=EventType.SQS)


class RetryLater(Exception):
    """The attempt failed; the message comes back on the schedule."""


def deliver_record(record: SQSRecord) -> None:
    services = get_delivery()
    try:
        message = WebhookMessage.model_validate_json(record.body)
    except ValidationError:
        logger.error(
            "webhook message is not a WebhookMessage; dropped", extra={"message_id": record.message_id}
        )
        metrics.add_metric(name="WebhookMessageUnreadable", unit="Count", value=1)
        return
    attempt = int(record.attributes.approximate_receive_count or "1")
    logger.append_keys(job_id=message.job_id, event_id=message.event_id, attempt=attempt)
    decision = services.delivery.deliver(message, attempt)
    result = decision.result
    logger.info(
        "webhook attempt",
        extra={
            "outcome": decision.outcome.value,
            "status_code": result.status_code if result else None,
            "latency_ms": result.latency_ms if result else None,
            "error": result.error if result else decision.reason,
        },
    )
    metrics.add_metric(name=f"Webhook{decision.outcome.value.title()}", unit="Count", value=1)
    if decision.outcome is DeliveryOutcome.RETRYING:
        try:
            services.redelivery.retry_in(record.queue_url, record.receipt_handle, decision.retry_in_s or 0.0)
        except StoreUnavailableError:
            logger.exception("could not set the retry delay; the queue's visibility timeout applies")
        raise RetryLater(decision.reason or "attempt failed")


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> Any:
    return process_partial_response(
        event=event, record_handler=deliver_record, processor=processor, context=context
    )
