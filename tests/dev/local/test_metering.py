"""The meter counts what a function asks of AWS, by function, service and operation (also from
threads the function starts), the DynamoDB units its writes cost, its invocations and its log bytes;
calls made outside functions count apart."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runway_bridge_dev.local import metering
from runway_bridge_dev.local.aws import LocalAws
from runway_bridge_dev.local.functions import LocalFunction
from runway_bridge_dev.local.sqs_poller import SqsPoller
from runway_bridge_dev.local.stack import LocalStack
from tests.dev.local.conftest import CORE_TEMPLATE, wait_for

HANDLER = textwrap.dedent(
    """
    import os
    import threading

    import boto3


    def handler(event, context):
        dynamodb = boto3.client("dynamodb")
        table = os.environ["CORE_RECORDS_TABLE"]
        # 1.5 KB: 2 write units in the table; it enters the KEYS_ONLY index (1 more).
        dynamodb.put_item(
            TableName=table,
            Item={"pk": {"S": "job-1"}, "function": {"S": "metered"}, "blob": {"S": "x" * 1500}},
        )
        # Changes no index key: the KEYS_ONLY index is not written.
        dynamodb.update_item(
            TableName=table,
            Key={"pk": {"S": "job-1"}},
            UpdateExpression="SET note = :n",
            ExpressionAttributeValues={":n": {"S": "seen"}},
        )
        dynamodb.get_item(TableName=table, Key={"pk": {"S": "job-1"}})

        def send():
            boto3.client("sqs").send_message(QueueUrl=os.environ["CORE_EVENTS_QUEUE_URL"], MessageBody="{}")

        worker = threading.Thread(target=send)
        worker.start()
        worker.join()
        print("a log line of the function")
        return "done"
    """
)


@pytest.fixture
def metered_aws(
    local_aws: Callable[..., LocalAws], tmp_path: Path
) -> Iterator[tuple[LocalAws, metering.Meter]]:
    meter = metering.start()
    aws = local_aws(CORE_TEMPLATE)
    meter.learn_tables(aws.template, aws.resolve)
    (tmp_path / "metered.py").write_text(HANDLER)
    aws.runner.register(
        LocalFunction(
            logical_id="MeteredFunction",
            function_name="metered",
            arn="arn:aws:lambda:us-east-1:123456789012:function:metered",
            code_dir=tmp_path,
            handler="metered.handler",
            timeout_s=10,
        )
    )
    yield aws, meter
    metering.stop()


def test_a_function_s_calls_count_for_it_even_from_its_own_threads(
    metered_aws: tuple[LocalAws, metering.Meter],
) -> None:
    aws, meter = metered_aws
    metering.count_output()  # the stream pytest gives this test
    before = meter.snapshot()
    aws.boto3_client("sqs").get_queue_attributes(
        QueueUrl=aws.resolve({"Ref": "EventsQueue"})
    )  # not a function's

    assert aws.runner.invoke("metered", {}) == "done"

    usage = meter.snapshot() - before
    assert usage.by_origin("function:metered") == {
        ("dynamodb", "PutItem"): 1,
        ("dynamodb", "UpdateItem"): 1,
        ("dynamodb", "GetItem"): 1,
        ("sqs", "SendMessage"): 1,
    }
    assert usage.by_origin(metering.LOCAL) == {("sqs", "GetQueueAttributes"): 1}
    assert usage.invocations == {"metered": 1}
    assert usage.log_bytes["metered"] >= len("a log line of the function")


def test_dynamodb_units_follow_item_size_and_the_template_s_indexes(
    metered_aws: tuple[LocalAws, metering.Meter],
) -> None:
    aws, meter = metered_aws
    table = aws.resolve({"Ref": "RecordsTable"})
    before = meter.snapshot()

    aws.runner.invoke("metered", {})

    usage = meter.snapshot() - before
    # Put: 2 (1.5 KB) + 1 (enters the index); update: 2 (still 1.5 KB), index untouched.
    assert usage.write_units[table] == 5
    assert usage.index_write_units[table] == 1
    assert usage.read_units[table] == 0.5  # one eventually consistent read under 4 KB


def test_index_writes_by_projection() -> None:
    keys_only = metering.TableSpec(
        keys=("pk",), indexes=(metering.IndexSpec("due", ("shard", "at"), "KEYS_ONLY"),)
    )
    every = metering.TableSpec(keys=("pk",), indexes=(metering.IndexSpec("all", ("tenant",), "ALL"),))
    item = {"pk": {"S": "a"}, "shard": {"S": "1"}, "at": {"N": "5"}, "tenant": {"S": "t"}, "x": {"S": "1"}}
    changed = {**item, "x": {"S": "2"}}
    moved = {**item, "at": {"N": "9"}}
    left = {k: v for k, v in item.items() if k != "shard"}

    assert metering.index_write_units(keys_only, item, changed) == 0
    assert metering.index_write_units(keys_only, item, moved) == 2  # delete + put
    assert metering.index_write_units(keys_only, item, left) == 1
    assert metering.index_write_units(keys_only, None, item) == 1
    assert metering.index_write_units(every, item, changed) == 1
    assert metering.index_write_units(every, item, item) == 0


GLUE_TEMPLATE = Path(__file__).parent / "fixtures" / "glue" / "template.yaml"


@pytest.fixture
def metered_stack() -> Iterator[tuple[LocalStack, metering.Meter]]:
    meter = metering.start()
    try:
        with LocalStack(GLUE_TEMPLATE, use_emulator=False, run_schedules=False) as stack:
            yield stack, meter
    finally:
        metering.stop()


def test_glue_calls_count_for_the_aws_service_they_stand_in_for(
    metered_stack: tuple[LocalStack, metering.Meter],
) -> None:
    stack, meter = metered_stack
    tick = next(name for name in stack.scheduler.schedules if name.startswith("TickMachine"))
    tick_function = stack.aws.runner.get("TickFunction").function_name
    worker = stack.aws.runner.get("WorkerFunction").function_name
    runs_before = len(metering.express_runs())
    before = meter.snapshot()

    stack.scheduler.fire_now(tick)
    wait_for(lambda: len(metering.express_runs()) > runs_before)
    queue_url = stack.aws.resolve({"Ref": "WorkQueue"})
    stack.aws.boto3_client("sqs").send_message(QueueUrl=queue_url, MessageBody="work")
    wait_for(lambda: sum(p.deleted for p in stack.pollers.values() if isinstance(p, SqsPoller)) >= 1)
    # Idle pollers go on long-polling: those receives are counted, apart.
    empty = ("sqs", metering.EMPTY_RECEIVE)
    wait_for(lambda: (meter.snapshot() - before).by_origin(metering.SQS_EVENT_SOURCE)[empty] >= 3)

    usage = meter.snapshot() - before
    assert usage.schedule_fires == {tick: 1}
    assert usage.by_origin(metering.SCHEDULER) == {("states", "StartExecution"): 1}
    assert usage.by_origin(metering.STATE_MACHINE)[("lambda", "Invoke")] == 1
    assert usage.by_origin(f"function:{tick_function}") == {("sqs", "SendMessage"): 1}
    pollers = usage.by_origin(metering.SQS_EVENT_SOURCE)
    # The receive that brought the message (a redelivery at most once: maxReceiveCount 2); the
    # pollers' empty long-polls are kept apart.
    assert 1 <= pollers[("sqs", "ReceiveMessage")] <= 2
    assert pollers[("sqs", "DeleteMessageBatch")] >= 1
    assert usage.invocations[tick_function] == 1
    assert usage.invocations[worker] >= 1
    assert usage.by_origin(metering.LOCAL) == {("sqs", "SendMessage"): 1}
