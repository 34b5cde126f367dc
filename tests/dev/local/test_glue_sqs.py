"""SQS event source mappings run like Lambda runs them: batches, partial failures, redelivery after
the visibility timeout, then the dead-letter queue (tests/local/fixtures/glue/template.yaml:
WorkQueue has VisibilityTimeout 1 s and maxReceiveCount 2; the worker reports bodies starting with
"fail" as failed items and records every record it sees in ResultsQueue)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from runway_bridge_dev.local.sqs_poller import (
    InvalidEventSourceMapping,
    check_visibility_covers_timeout,
    failed_message_ids,
)
from runway_bridge_dev.local.stack import LocalStack

GLUE_TEMPLATE = Path(__file__).parent / "fixtures" / "glue" / "template.yaml"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(GLUE_TEMPLATE, use_emulator=False, run_schedules=False) as running:
        yield running


class Queues:
    def __init__(self, stack: LocalStack) -> None:
        self.sqs = stack.aws.boto3_client("sqs")
        self.work = str(stack.aws.resolve({"Ref": "WorkQueue"}))
        self.dead_letters = str(stack.aws.resolve({"Ref": "WorkDeadLetterQueue"}))
        self.results = str(stack.aws.resolve({"Ref": "ResultsQueue"}))
        self.batched = str(stack.aws.resolve({"Ref": "BatchQueue"}))
        self.work_arn = str(stack.aws.resolve({"Fn::GetAtt": ["WorkQueue", "Arn"]}))

    def send(self, body: str, *, queue: str | None = None, **extra: Any) -> str:
        response = self.sqs.send_message(QueueUrl=queue or self.work, MessageBody=body, **extra)
        return str(response["MessageId"])

    def drain(
        self, url: str, *, wait_s: float, until: Callable[[list[dict[str, Any]]], bool] | None = None
    ) -> list[dict[str, Any]]:
        """What arrives on `url` within `wait_s` seconds (or as soon as `until` is satisfied)."""
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and not (until and until(found)):
            response = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            for message in response.get("Messages", []):
                found.append(message)
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return found

    def seen_records(self, marker: str, *, wait_s: float, want: int | None = None) -> list[dict[str, Any]]:
        """Records the worker saw whose body holds `marker` (as soon as `want` of them arrived)."""
        matching: list[dict[str, Any]] = []

        def enough(found: list[dict[str, Any]]) -> bool:
            matching[:] = [
                record
                for record in (json.loads(m["Body"]) for m in found)
                if record.get("kind") == "sqs-record" and marker in record["record"]["body"]
            ]
            return want is not None and len(matching) >= want

        enough(self.drain(self.results, wait_s=wait_s, until=enough))
        return matching


@pytest.fixture
def queues(stack: LocalStack) -> Queues:
    found = Queues(stack)
    found.drain(found.results, wait_s=0)  # another test's leftovers
    return found


def test_record_has_the_shape_lambda_gives_it(queues: Queues, stack: LocalStack) -> None:
    marker = uuid.uuid4().hex
    message_id = queues.send(
        f"hello {marker}",
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "greeting"},
            "raw": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )
    [seen] = queues.seen_records(marker, wait_s=3, want=1)
    record = seen["record"]
    assert record["messageId"] == message_id
    assert record["body"] == f"hello {marker}"
    assert record["receiptHandle"]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == queues.work_arn
    assert record["awsRegion"] == stack.aws.region
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert int(record["attributes"]["SentTimestamp"]) > 0
    assert len(record["md5OfBody"]) == 32
    assert record["messageAttributes"]["kind"] == {
        "stringValue": "greeting",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert record["messageAttributes"]["raw"]["binaryValue"] == "AAE="
    # Success: deleted, so not seen again after its 1 s visibility timeout.
    assert queues.seen_records(marker, wait_s=2.2) == []


def test_failed_record_is_redelivered_after_the_visibility_timeout_then_dead_lettered(queues: Queues) -> None:
    marker = uuid.uuid4().hex
    started = time.monotonic()
    good_id = queues.send(f"ok {marker}")
    bad_id = queues.send(f"fail {marker}")
    dead = queues.drain(queues.dead_letters, wait_s=8, until=lambda found: len(found) >= 1)
    seen = queues.seen_records(marker, wait_s=0.5)
    counts = sorted(
        (r["record"]["messageId"], int(r["record"]["attributes"]["ApproximateReceiveCount"])) for r in seen
    )
    # The good record once; the failing one twice (maxReceiveCount 2), the second time >= 1 s later.
    assert counts == sorted([(good_id, 1), (bad_id, 1), (bad_id, 2)])
    assert [m["MessageId"] for m in dead] == [bad_id]
    assert dead[0]["Body"] == f"fail {marker}"
    assert time.monotonic() - started >= 1.0


@pytest.mark.parametrize("kind", ["explode", "malformed-answer"])
def test_handler_exception_or_malformed_answer_fails_the_whole_batch(queues: Queues, kind: str) -> None:
    marker = uuid.uuid4().hex
    message_id = queues.send(f"{kind} {marker}")
    dead = queues.drain(queues.dead_letters, wait_s=8, until=lambda found: len(found) >= 1)
    assert [m["MessageId"] for m in dead] == [message_id]
    counts = sorted(
        int(r["record"]["attributes"]["ApproximateReceiveCount"])
        for r in queues.seen_records(marker, wait_s=0.5)
    )
    assert counts == [1, 2]


def test_messages_sent_together_arrive_in_one_batch_within_the_window(queues: Queues) -> None:
    marker = uuid.uuid4().hex
    for index in range(4):
        queues.send(f"batch {index} {marker}", queue=queues.batched)
    seen = queues.seen_records(marker, wait_s=3, want=4)
    assert len(seen) == 4
    # BatchSize 5 and a 1 s window: the pollers gather them into batches instead of one by one.
    assert max(r["batchSize"] for r in seen) >= 2
    assert all(r["record"]["attributes"]["ApproximateReceiveCount"] == "1" for r in seen)


def test_delayed_message_is_not_delivered_before_its_delay(queues: Queues) -> None:
    marker = uuid.uuid4().hex
    queues.send(f"late {marker}", DelaySeconds=2)
    assert queues.seen_records(marker, wait_s=1.2) == []
    assert len(queues.seen_records(marker, wait_s=3, want=1)) == 1


def test_mapping_whose_visibility_timeout_is_shorter_than_the_function_timeout_is_refused() -> None:
    with pytest.raises(
        InvalidEventSourceMapping, match=r"Mapping1.*visibility timeout: 2 seconds.*Function timeout: 30"
    ):
        check_visibility_covers_timeout("Mapping1", 2, 30)
    check_visibility_covers_timeout("Mapping1", 30, 30)


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "b"}]}, {"b"}),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, {"a", "b"}),
        ({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, {"a", "b"}),
        ({"batchItemFailures": [{"id": "a"}]}, {"a", "b"}),
        ({"batchItemFailures": "a"}, {"a", "b"}),
        ("not an object", {"a", "b"}),
    ],
)
def test_report_batch_item_failures_reading_like_lambda(response: Any, expected: set[str]) -> None:
    assert failed_message_ids(response, ["a", "b"]) == expected
