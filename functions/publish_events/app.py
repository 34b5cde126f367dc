"""Relay function: the jobs table's stream → notifications (every channel: SNS, EventBridge, the
webhook queue).

Stream records (Powertools `BatchProcessor`, partial batch failures, so one bad record does not hold
back its shard): an inserted outbox event item is published; a job item whose progress changed
becomes a `task.progress` notification (its callback asked for one). The jobs store decodes the
record and the relay decides (`NotificationRelay.relay_stream_record`); everything else is ignored
(the event source mapping's filter already drops most of it). A scheduled `{"sweep": true}` publishes
events still pending after a minute: the safety net for stream records that failed for good (an event
that fails again is counted in `EventsSweepFailed` and does not stop the others).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch import EventType as BatchEventType
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from runway_bridge.models.events import OUTCOME_EVENT_TYPES, EventType
from runway_bridge.observability import logger, metrics, tracer
from runway_bridge.wiring.cache import utc_now
from runway_bridge.wiring.notifications import get_relay

processor = BatchProcessor(event_type=BatchEventType.DynamoDBStreams)


def relay_record(record: DynamoDBRecord) -> None:
    relayed = get_relay().relay_stream_record(record.raw_event)
    if relayed.published is not None:
        logger.info(
            "event published", extra={"event_id": relayed.published.id, "type": relayed.published.type}
        )
        metrics.add_metric(name="EventsPublished", unit="Count", value=1)
        count_outcome(relayed.published.type, relayed.published.timestamp)
    if relayed.progress is not None:
        metrics.add_metric(name="ProgressWebhooksQueued", unit="Count", value=1)


# Dashboard names of the terminal events: task.succeeded -> JobsSucceeded, task.timed_out -> JobsTimedOut.
OUTCOME_METRICS = {
    event_type: "Jobs" + event_type.value.removeprefix("task.").title().replace("_", "")
    for event_type in OUTCOME_EVENT_TYPES.values()
}


def count_outcome(event_type: EventType, recorded_at: datetime) -> None:
    """A terminal event, counted once published, with how long after the outcome was recorded."""
    name = OUTCOME_METRICS.get(event_type)
    if name is None:
        return
    metrics.add_metric(name=name, unit="Count", value=1)
    lag_ms = (utc_now() - recorded_at).total_seconds() * 1000
    metrics.add_metric(name="OutcomePublishLag", unit="Milliseconds", value=max(lag_ms, 0.0))


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> Any:
    if event.get("sweep"):
        swept = get_relay().sweep()
        logger.info("outbox sweep", extra={"published": swept.published, "failed": swept.failed})
        # Only counts that happened: a custom metric is billed for each hour it is published, and an
        # idle stack sweeps every 5 minutes.
        if swept.published:
            metrics.add_metric(name="EventsSwept", unit="Count", value=swept.published)
        if swept.failed:
            metrics.add_metric(name="EventsSweepFailed", unit="Count", value=swept.failed)
        return {"published": swept.published, "failed": swept.failed}
    return process_partial_response(
        event=event, record_handler=relay_record, processor=processor, context=context
    )
