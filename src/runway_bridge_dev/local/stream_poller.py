"""DynamoDB stream event source mappings, run the way the Lambda service runs them.

moto records a table's stream (GetRecords works over its real API) but invokes nothing for it
unless a moto-side mapping exists, and then inside the write. Here each `AWS::Lambda::EventSourceMapping`
with a DynamoDB stream source gets a poller that reads the shard over the dynamodbstreams API, keeps
the records matching the mapping's FilterCriteria, invokes the function in-process with a Lambda-shaped
event in batches of BatchSize, and on a failure retries from the first failed record
(`ReportBatchItemFailures`) up to MaximumRetryAttempts, then moves on (logged: the on-failure
destination is not emulated).

Local difference: reading starts at LATEST when the stack starts, whatever StartingPosition says, so
a restart with a data dir does not re-announce restored events (the relay's sweep publishes events
still pending).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from runway_bridge_dev.local.functions import FunctionError
from runway_bridge_dev.local.sqs_poller import FunctionInvoker, UnsupportedEventSourceMapping

log = logging.getLogger(__name__)

IDLE_SLEEP_S = 0.2
DEFAULT_BATCH_SIZE = 100
DEFAULT_MAX_RETRIES = 10


def matches(pattern: Any, value: Any) -> bool:
    """The subset of EventBridge-style filter patterns Lambda filter criteria use here: nested
    objects, lists of exact values, and `{"prefix": ...}`."""
    if isinstance(pattern, dict):
        if not isinstance(value, dict):
            return False
        return all(key in value and matches(sub, value[key]) for key, sub in pattern.items())
    if isinstance(pattern, list):
        for option in pattern:
            if isinstance(option, dict):
                if set(option) != {"prefix"}:
                    raise UnsupportedEventSourceMapping(f"filter operator {option} is not emulated")
                if isinstance(value, str) and value.startswith(option["prefix"]):
                    return True
            elif option == value:
                return True
        return False
    raise UnsupportedEventSourceMapping(f"filter pattern {pattern!r} is not emulated")


@dataclass(frozen=True)
class StreamEventSource:
    logical_id: str
    function: str
    stream_arn: str
    batch_size: int = DEFAULT_BATCH_SIZE
    report_batch_item_failures: bool = False
    maximum_retry_attempts: int = DEFAULT_MAX_RETRIES
    filters: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_properties(cls, logical_id: str, properties: Mapping[str, Any]) -> StreamEventSource:
        filters = [
            json.loads(item["Pattern"])
            for item in (properties.get("FilterCriteria") or {}).get("Filters", [])
        ]
        retries = int(properties.get("MaximumRetryAttempts", DEFAULT_MAX_RETRIES))
        return cls(
            logical_id=logical_id,
            function=str(properties["FunctionName"]),
            stream_arn=str(properties["EventSourceArn"]),
            batch_size=int(properties.get("BatchSize", DEFAULT_BATCH_SIZE)),
            report_batch_item_failures="ReportBatchItemFailures"
            in (properties.get("FunctionResponseTypes") or []),
            maximum_retry_attempts=DEFAULT_MAX_RETRIES if retries < 0 else retries,
            filters=filters,
        )

    def wants(self, record: Mapping[str, Any]) -> bool:
        return not self.filters or any(matches(pattern, record) for pattern in self.filters)


class StreamPoller:
    def __init__(
        self, source: StreamEventSource, *, streams: Any, invoker: FunctionInvoker, region: str
    ) -> None:
        self.source = source
        self._streams = streams
        self._invoker = invoker
        self._region = region
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"stream-{source.logical_id}", daemon=True)
        self._iterators: dict[str, str] = {}
        self.invocations = 0

    def start(self) -> None:
        shards = self._streams.describe_stream(StreamArn=self.source.stream_arn)["StreamDescription"][
            "Shards"
        ]
        for shard in shards:
            self._iterators[shard["ShardId"]] = self._streams.get_shard_iterator(
                StreamArn=self.source.stream_arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST"
            )["ShardIterator"]
        self._thread.start()

    def request_stop(self) -> None:
        self._stop.set()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stop.is_set():
            busy = False
            for shard_id in list(self._iterators):
                try:
                    busy |= self._poll_shard(shard_id)
                except Exception:  # keep polling: the next round may work (moto restarting, ...)
                    log.exception("stream poller %s failed on shard %s", self.source.logical_id, shard_id)
                    self._stop.wait(1.0)
            if not busy:
                self._stop.wait(IDLE_SLEEP_S)

    def _poll_shard(self, shard_id: str) -> bool:
        answer = self._streams.get_records(ShardIterator=self._iterators[shard_id], Limit=1000)
        records = answer.get("Records", [])
        if answer.get("NextShardIterator"):
            self._iterators[shard_id] = answer["NextShardIterator"]
        wanted = [self._lambda_record(record) for record in records]
        wanted = [record for record in wanted if self.source.wants(record)]
        for start in range(0, len(wanted), self.source.batch_size):
            self._deliver(wanted[start : start + self.source.batch_size])
        return bool(records)

    def _lambda_record(self, record: Mapping[str, Any]) -> dict[str, Any]:
        change = dict(record["dynamodb"])
        created = change.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            change["ApproximateCreationDateTime"] = created.timestamp()
        return {
            "eventID": record.get("eventID"),
            "eventName": record["eventName"],
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": self._region,
            "dynamodb": change,
            "eventSourceARN": self.source.stream_arn,
        }

    def _deliver(self, batch: list[dict[str, Any]]) -> None:
        """Invoke until the batch is through: a failure retries from the first failed record."""
        retries = 0
        while batch and not self._stop.is_set():
            self.invocations += 1
            try:
                answer = self._invoker.invoke(self.source.function, {"Records": batch})
                failed = self._first_failed(batch, answer)
            except FunctionError:
                log.exception("stream batch failed in %s", self.source.function)
                failed = 0
            if failed is None:
                return
            retries += 1
            if retries > self.source.maximum_retry_attempts:
                log.error(
                    "stream poller %s: gave up on %d records after %d retries",
                    self.source.logical_id,
                    len(batch) - failed,
                    retries - 1,
                )
                return
            batch = batch[failed:]
            self._stop.wait(min(0.2 * retries, 2.0))

    def _first_failed(self, batch: list[dict[str, Any]], answer: Any) -> int | None:
        if not self.source.report_batch_item_failures or not isinstance(answer, dict):
            return None
        failures = answer.get("batchItemFailures") or []
        if not failures:
            return None
        numbers = [record["dynamodb"]["SequenceNumber"] for record in batch]
        positions = [
            numbers.index(item["itemIdentifier"])
            for item in failures
            if item.get("itemIdentifier") in numbers
        ]
        return min(positions) if positions else 0
