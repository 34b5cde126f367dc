"""Relay function: the jobs table's stream → notifications (SNS, EventBridge, webhook queue).

Stream records (Powertools `BatchProcessor`, partial batch failures, so one bad record does not hold
back its shard): an inserted outbox event item (`sk` = `EVENT#...`) is published; a job item whose
progress changed becomes a `task.progress` webhook when its callback asked for one. Everything else is
ignored (the event source mapping's filter already drops most of it). A scheduled `{"sweep": true}`
publishes events still pending after a minute: the safety net for stream records that failed for good
(an event that fails again is counted in `EventsSweepFailed` and does not stop the others).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from runway_bridge.models.job import TERMINAL_EVENT_TYPES, Job
from runway_bridge.models.outbox import OutboxEvent
from runway_bridge.observability import logger, metrics, tracer
from runway_bridge.wiring.cache import utc_now
from runway_bridge.wiring.notifications import get_relay

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def relay_record(record: DynamoDBRecord) -> None:
    change = record.dynamodb
    new_image = _plain(change.new_image) if change and change.new_image else None
    if not new_image:
        return
    sort_key = str(new_image.get("sk", ""))
    relay = get_relay()
    if sort_key.startswith("EVENT#") and record.event_name and record.event_name.name == "INSERT":
        event = OutboxEvent(
            event_id=new_image["eventId"],
            type=new_image["type"],
            job_id=new_image["jobId"],
            tenant_id=new_image["eventTenantId"],
            created_at=new_image["createdAt"],
            payload=new_image.get("payload", {}),
        )
        notification = relay.publish_event(event)
        logger.info("event published", extra={"event_id": event.event_id, "type": notification.type})
        metrics.add_metric(name="EventsPublished", unit="Count", value=1)
        count_outcome(event)
    elif sort_key == "JOB" and record.event_name and record.event_name.name == "MODIFY":
        # Both sides plain: a stream Decimal never equals the float it was written from.
        old_progress = _plain((change.old_image or {}).get("progress")) if change else None
        if new_image.get("progress") is not None and new_image.get("progress") != old_progress:
            job = Job.model_validate(new_image)
            if relay.publish_progress(job):
                metrics.add_metric(name="ProgressWebhooksQueued", unit="Count", value=1)


# Dashboard names of the terminal events: task.succeeded -> JobsSucceeded, task.timed_out -> JobsTimedOut.
OUTCOME_METRICS = {
    event_type: "Jobs" + event_type.removeprefix("task.").title().replace("_", "")
    for event_type in TERMINAL_EVENT_TYPES.values()
}


def count_outcome(event: OutboxEvent) -> None:
    """A terminal event, counted once published, with how long after the outcome was recorded."""
    name = OUTCOME_METRICS.get(event.type)
    if name is None:
        return
    metrics.add_metric(name=name, unit="Count", value=1)
    lag_ms = (utc_now() - event.created_at).total_seconds() * 1000
    metrics.add_metric(name="OutcomePublishLag", unit="Milliseconds", value=max(lag_ms, 0.0))


def _plain(value: Any) -> Any:
    """Stream images hold Decimals; the models want ints and floats."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> Any:
    if event.get("sweep"):
        swept = get_relay().sweep()
        logger.info("outbox sweep", extra={"published": swept.published, "failed": swept.failed})
        metrics.add_metric(name="EventsSwept", unit="Count", value=swept.published)
        metrics.add_metric(name="EventsSweepFailed", unit="Count", value=swept.failed)
        return {"published": swept.published, "failed": swept.failed}
    return process_partial_response(
        event=event, record_handler=relay_record, processor=processor, context=context
    )
