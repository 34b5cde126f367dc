"""SQS event source mappings, run the way the Lambda service runs them.

moto's own SQS→Lambda mapping fires inside SendMessage, all or nothing, and never redelivers; here
each `AWS::Lambda::EventSourceMapping` with an SQS source gets pollers that long-poll the queue,
batch by BatchSize / MaximumBatchingWindowInSeconds, build the SQS event, invoke the function
in-process and delete only what succeeded. Whatever is not deleted comes back after the queue's
visibility timeout; moto's ReceiveMessage itself moves a message to the dead-letter queue once its
receive count reaches the RedrivePolicy's maxReceiveCount (checked in moto 5.2.5's
`SQSBackend.receive_message`), so the DLQ needs nothing from us beyond receiving again.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from runway_bridge_dev.local.functions import FunctionError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

log = logging.getLogger(__name__)

# Lambda's defaults and limits for SQS event sources.
DEFAULT_BATCH_SIZE = 10
MAX_RECEIVE_BATCH = 10  # one ReceiveMessage returns at most 10 messages
# Short long-polls keep stop() prompt; moto wakes a waiting receive as soon as a message arrives.
LONG_POLL_S = 1
DEFAULT_CONCURRENCY = 2
ERROR_BACKOFF_S = 0.5


class FunctionInvoker(Protocol):
    def invoke(self, name_or_arn: str, event: dict[str, Any], *, timeout_s: float | None = None) -> Any: ...


class UnsupportedEventSourceMapping(Exception):
    """An event source mapping setting this local runtime cannot honour."""


class InvalidEventSourceMapping(ValueError):
    """A mapping the Lambda service itself would refuse to create."""


def check_visibility_covers_timeout(
    logical_id: str, visibility_timeout_s: int, function_timeout_s: float
) -> None:
    """Lambda refuses a mapping whose queue could redeliver a batch while the function still runs."""
    if visibility_timeout_s < function_timeout_s:
        raise InvalidEventSourceMapping(
            f"event source mapping {logical_id}: Queue visibility timeout: {visibility_timeout_s} seconds is "
            f"less than Function timeout: {function_timeout_s:g} seconds"
        )


@dataclass(frozen=True)
class SqsEventSource:
    """One `AWS::Lambda::EventSourceMapping` with an SQS queue as its source."""

    logical_id: str
    function: str  # name, ARN or logical id: whatever the runner resolves
    queue_url: str
    queue_arn: str
    batch_size: int = DEFAULT_BATCH_SIZE
    maximum_batching_window_s: float = 0.0
    report_batch_item_failures: bool = False
    enabled: bool = True
    # Lambda runs several pollers per queue; ScalingConfig.MaximumConcurrency caps them.
    concurrency: int = DEFAULT_CONCURRENCY

    @classmethod
    def from_properties(
        cls, logical_id: str, properties: Mapping[str, Any], *, queue_url: str, function: str
    ) -> SqsEventSource:
        """Build from the resolved CloudFormation properties of the mapping."""
        if properties.get("FilterCriteria"):
            raise UnsupportedEventSourceMapping(f"{logical_id}: FilterCriteria is not emulated")
        response_types = properties.get("FunctionResponseTypes") or []
        concurrency = (properties.get("ScalingConfig") or {}).get("MaximumConcurrency")
        return cls(
            logical_id=logical_id,
            function=function,
            queue_url=queue_url,
            queue_arn=str(properties["EventSourceArn"]),
            batch_size=int(properties.get("BatchSize", DEFAULT_BATCH_SIZE)),
            maximum_batching_window_s=float(properties.get("MaximumBatchingWindowInSeconds", 0)),
            report_batch_item_failures="ReportBatchItemFailures" in response_types,
            enabled=bool(properties.get("Enabled", True)),
            concurrency=min(int(concurrency), DEFAULT_CONCURRENCY) if concurrency else DEFAULT_CONCURRENCY,
        )


def _message_attributes(message: MessageTypeDef) -> dict[str, dict[str, Any]]:
    attributes: dict[str, dict[str, Any]] = {}
    for name, value in (message.get("MessageAttributes") or {}).items():
        entry: dict[str, Any] = {
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value["DataType"],
        }
        if "StringValue" in value:
            entry["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            entry["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
        attributes[name] = entry
    return attributes


def sqs_record(message: MessageTypeDef, *, queue_arn: str, region: str) -> dict[str, Any]:
    """The record Lambda puts in `Records` for one received SQS message."""
    body = message.get("Body", "")
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": body,
        "attributes": dict(message.get("Attributes") or {}),
        "messageAttributes": _message_attributes(message),
        "md5OfBody": message.get("MD5OfBody")
        or hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def failed_message_ids(response: Any, batch_ids: Sequence[str]) -> set[str]:
    """Message ids a ReportBatchItemFailures response marks as failed.

    Like Lambda: no answer or an empty list means all succeeded; anything malformed (not an object,
    an item without a valid `itemIdentifier`, an id not in the batch) fails the whole batch.
    """
    if response is None or response in ("", {}):
        return set()
    if not isinstance(response, Mapping):
        return set(batch_ids)
    items = response.get("batchItemFailures")
    if items is None:
        return set()
    if not isinstance(items, list):
        return set(batch_ids)
    failed: set[str] = set()
    for item in items:
        identifier = item.get("itemIdentifier") if isinstance(item, Mapping) else None
        if not isinstance(identifier, str) or identifier not in batch_ids:
            return set(batch_ids)
        failed.add(identifier)
    return failed


class SqsPoller:
    """Runs one SQS event source mapping until stopped."""

    def __init__(
        self, source: SqsEventSource, *, sqs: SQSClient, invoker: FunctionInvoker, region: str
    ) -> None:
        self.source = source
        self._sqs = sqs
        self._invoker = invoker
        self._region = region
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        # Counters for the CLI and benchmarks.
        self.batches = 0
        self.failed_batches = 0
        self.deleted = 0

    def start(self) -> None:
        if not self.source.enabled:
            log.info("event source mapping %s is disabled", self.source.logical_id)
            return
        for index in range(self.source.concurrency):
            thread = threading.Thread(
                target=self._run, name=f"sqs-{self.source.logical_id}-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def request_stop(self) -> None:
        self._stop.set()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop polling; a batch already being handled finishes first."""
        self._stop.set()
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads.clear()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                batch = self._receive_batch()
                if batch:
                    self._handle(batch)
            except Exception:  # keep polling like the Lambda service does
                log.exception("event source mapping %s: poll failed", self.source.logical_id)
                self._stop.wait(ERROR_BACKOFF_S)

    def _receive(self, max_messages: int, wait_s: int) -> list[MessageTypeDef]:
        response = self._sqs.receive_message(
            QueueUrl=self.source.queue_url,
            MaxNumberOfMessages=max_messages,
            WaitTimeSeconds=wait_s,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(response.get("Messages", []))

    def _receive_batch(self) -> list[MessageTypeDef]:
        """Wait for a first message, then gather until the batch is full or the window closes."""
        batch = self._receive(min(self.source.batch_size, MAX_RECEIVE_BATCH), LONG_POLL_S)
        if not batch:
            return batch
        window_ends = time.monotonic() + self.source.maximum_batching_window_s
        while len(batch) < self.source.batch_size and not self._stop.is_set():
            remaining = window_ends - time.monotonic()
            if remaining <= 0:
                break
            wanted = min(self.source.batch_size - len(batch), MAX_RECEIVE_BATCH)
            more = self._receive(wanted, 0)
            if more:
                batch.extend(more)
            else:
                self._stop.wait(min(remaining, 0.05))
        return batch

    def _handle(self, batch: list[MessageTypeDef]) -> None:
        records = [
            sqs_record(message, queue_arn=self.source.queue_arn, region=self._region) for message in batch
        ]
        ids = [record["messageId"] for record in records]
        try:
            response = self._invoker.invoke(self.source.function, {"Records": records})
        except FunctionError as exc:  # the whole batch comes back after its visibility timeout
            log.warning(
                "event source mapping %s: %s failed on %d records: %s",
                self.source.logical_id,
                self.source.function,
                len(records),
                exc,
            )
            with self._lock:
                self.batches += 1
                self.failed_batches += 1
            return
        failed = failed_message_ids(response, ids) if self.source.report_batch_item_failures else set()
        done = [message for message in batch if message["MessageId"] not in failed]
        for start in range(0, len(done), MAX_RECEIVE_BATCH):
            chunk = done[start : start + MAX_RECEIVE_BATCH]
            result = self._sqs.delete_message_batch(
                QueueUrl=self.source.queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": m["ReceiptHandle"]} for index, m in enumerate(chunk)
                ],
            )
            for failure in result.get("Failed", []):
                log.warning("event source mapping %s: delete failed: %s", self.source.logical_id, failure)
        with self._lock:
            self.batches += 1
            self.failed_batches += 1 if failed else 0
            self.deleted += len(done)
