"""DynamoDB transactions on the local runtime behave as DynamoDB's do, and a stream reader keeps hearing
writes after a cancelled one (moto alone strands it on a discarded copy of the table)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from runway_bridge_dev.local.functions import FunctionRunner
from runway_bridge_dev.local.moto_adaptations import MotoServer


@dataclass
class Table:
    dynamodb: Any
    streams: Any
    name: str
    iterator: str

    def item(self, pk: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self.dynamodb.get_item(TableName=self.name, Key=key(pk)).get("Item")
        return found

    def new_stream_records(self) -> list[dict[str, Any]]:
        answer = self.streams.get_records(ShardIterator=self.iterator)
        self.iterator = answer["NextShardIterator"]
        records: list[dict[str, Any]] = answer["Records"]
        return records

    def transact(self, *parts: dict[str, Any]) -> None:
        self.dynamodb.transact_write_items(TransactItems=list(parts))


def key(pk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}}


@pytest.fixture
def table() -> Iterator[Table]:
    server = MotoServer(FunctionRunner())
    url = server.start()
    try:
        options = {
            "endpoint_url": url,
            "region_name": "us-east-1",
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
        dynamodb = boto3.client("dynamodb", **options)
        streams = boto3.client("dynamodbstreams", **options)
        created = dynamodb.create_table(
            TableName="jobs",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        stream_arn = created["TableDescription"]["LatestStreamArn"]
        shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
        iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard, ShardIteratorType="LATEST")
        yield Table(dynamodb, streams, "jobs", iterator["ShardIterator"])
    finally:
        server.stop()


def put(pk: str, **attributes: str) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": "jobs",
            "Item": {**key(pk), **{name: {"S": value} for name, value in attributes.items()}},
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def delete(pk: str) -> dict[str, Any]:
    return {"Delete": {"TableName": "jobs", "Key": key(pk)}}


def cancellation_codes(error: ClientError) -> list[str]:
    return [reason["Code"] for reason in error.response["CancellationReasons"]]


def test_a_stream_reader_hears_writes_made_after_a_cancelled_transaction(table: Table) -> None:
    table.transact(put("a", state="first"))
    assert [record["eventName"] for record in table.new_stream_records()] == ["INSERT"]
    with pytest.raises(ClientError) as cancelled:
        table.transact(put("a", state="again"))
    assert cancellation_codes(cancelled.value) == ["ConditionalCheckFailed"]

    table.transact(put("b", state="later"))
    records = table.new_stream_records()
    assert [record["dynamodb"]["Keys"] for record in records] == [key("b")]


def test_a_failed_condition_anywhere_writes_nothing_and_names_the_failing_part(table: Table) -> None:
    table.transact(put("taken", state="old"))
    table.new_stream_records()
    with pytest.raises(ClientError) as cancelled:
        table.transact(
            put("fresh", state="new"),
            {
                "Update": {
                    "TableName": "jobs",
                    "Key": key("taken"),
                    "UpdateExpression": "SET #s = :s",
                    "ConditionExpression": "#s = :expected",
                    "ExpressionAttributeNames": {"#s": "state"},
                    "ExpressionAttributeValues": {":s": {"S": "changed"}, ":expected": {"S": "other"}},
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            },
        )
    assert cancellation_codes(cancelled.value) == ["None", "ConditionalCheckFailed"]
    assert cancelled.value.response["CancellationReasons"][1]["Item"]["state"] == {"S": "old"}
    assert table.item("fresh") is None
    assert table.item("taken") == {**key("taken"), "state": {"S": "old"}}
    assert table.new_stream_records() == []


def test_a_write_that_fails_after_others_were_applied_puts_them_back(table: Table) -> None:
    table.transact(put("kept", state="old"))
    table.new_stream_records()
    with pytest.raises(ClientError) as refused:
        table.transact(
            put("fresh", state="new"),
            delete("kept"),
            {
                "Update": {
                    "TableName": "jobs",
                    "Key": key("other"),
                    # Adding a number to a string is refused only when the update runs.
                    "UpdateExpression": "SET #s = :s, #n = #s + :one",
                    "ExpressionAttributeNames": {"#s": "state", "#n": "count"},
                    "ExpressionAttributeValues": {":s": {"S": "x"}, ":one": {"N": "1"}},
                }
            },
        )
    # DynamoDB answers a bad update expression with ValidationException for the whole request.
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert table.item("fresh") is None
    assert table.item("kept") == {**key("kept"), "state": {"S": "old"}}
    assert table.item("other") is None
    assert table.new_stream_records() == []


def test_two_parts_on_one_item_are_refused(table: Table) -> None:
    with pytest.raises(ClientError) as refused:
        table.transact(put("same", state="one"), delete("same"))
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert table.item("same") is None


def test_a_successful_transaction_writes_every_part_and_streams_each(table: Table) -> None:
    table.transact(put("gone", state="x"))
    table.new_stream_records()
    table.transact(
        put("one", state="a"),
        delete("gone"),
        {
            "ConditionCheck": {
                "TableName": "jobs",
                "Key": key("missing"),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
    )
    assert table.item("one") == {**key("one"), "state": {"S": "a"}}
    assert table.item("gone") is None
    assert [record["eventName"] for record in table.new_stream_records()] == ["INSERT", "REMOVE"]
