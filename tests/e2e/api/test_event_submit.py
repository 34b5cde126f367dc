"""Event-driven submits: `Generation Requested` on the bridge's bus → rule → submit function → the
same submission logic as the API; deduplicated on the event id; invalid events answered with a
`Generation Rejected` event carrying the caller's reference."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx

from runway_bridge_dev.local.stack import DEFAULT_TEMPLATE
from runway_bridge_dev.local.template import parse_template
from tests.e2e.api.conftest import Stack, Tenant, creates_sent, load_event, sample_body


def bus_name(stack: Stack) -> str:
    return str(stack.aws.resolve({"Ref": "EventBus"}))


def listen_for(stack: Stack, detail_type: str) -> str:
    """An SQS queue receiving `detail_type` events from the bridge's bus; returns its URL."""
    sqs, events = stack.aws.boto3_client("sqs"), stack.aws.boto3_client("events")
    name = f"listen-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name=name, EventBusName=bus_name(stack), EventPattern=json.dumps({"detail-type": [detail_type]})
    )
    events.put_targets(Rule=name, EventBusName=bus_name(stack), Targets=[{"Id": "q", "Arn": arn}])
    return str(url)


def receive_one(stack: Stack, queue_url: str, timeout_s: float = 10) -> dict[str, Any]:
    sqs = stack.aws.boto3_client("sqs")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages", [])
        if messages:
            message: dict[str, Any] = json.loads(messages[0]["Body"])
            return message
    raise AssertionError("no event arrived")


# The one declaration of the submit source: the template's mapping (the rule and bus policy use it).
SUBMIT_SOURCE = parse_template(DEFAULT_TEMPLATE)["Mappings"]["EventSources"]["Submit"]["Source"]


def put_request(stack: Stack, detail: dict[str, Any], source: str = SUBMIT_SOURCE) -> None:
    answer = stack.aws.boto3_client("events").put_events(
        Entries=[
            {
                "EventBusName": bus_name(stack),
                "Source": source,
                "DetailType": "Generation Requested",
                "Detail": json.dumps(detail),
            }
        ]
    )
    assert answer["FailedEntryCount"] == 0


def wait_for_jobs(api: httpx.Client, tenant: Tenant, reference: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 15
    while True:
        page = api.get("/v1/tasks", params={"reference": reference}, headers=tenant.bearer).json()
        settled = all(job["bridge"]["status"] not in {"QUEUED", "SUBMITTING"} for job in page["data"])
        if (len(page["data"]) >= count and settled) or time.monotonic() > deadline:
            data: list[dict[str, Any]] = page["data"]
            return data
        time.sleep(0.2)


def test_event_on_the_bus_submits_through_the_rule(api: httpx.Client, stack: Stack, tenant: Tenant) -> None:
    reference = f"order-{uuid.uuid4().hex[:8]}"
    before = creates_sent(stack)
    put_request(
        stack,
        {
            "tenantId": tenant.tenant_id,
            "operation": "text_to_video",
            "body": {**sample_body("text_to_video"), "reference": reference},
        },
    )
    jobs = wait_for_jobs(api, tenant, reference, 1)
    assert len(jobs) == 1
    assert jobs[0]["bridge"]["reference"] == reference
    assert jobs[0]["bridge"]["status"] == "PENDING"
    assert jobs[0]["bridge"]["runwayTaskId"]
    assert creates_sent(stack) == before + 1


def test_invalid_event_is_recorded_and_announced_as_rejected(stack: Stack, tenant: Tenant) -> None:
    rejections = listen_for(stack, "Generation Rejected")
    reference = f"order-{uuid.uuid4().hex[:8]}"
    before = creates_sent(stack)
    body = {**sample_body("text_to_video"), "duration": 7, "reference": reference}
    put_request(stack, {"tenantId": tenant.tenant_id, "operation": "text_to_video", "body": body})
    rejection = receive_one(stack, rejections)
    assert rejection["detail-type"] == "Generation Rejected"
    assert rejection["detail"]["reference"] == reference
    assert rejection["detail"]["tenantId"] == tenant.tenant_id
    assert "duration" in rejection["detail"]["reason"]
    assert creates_sent(stack) == before


def test_a_redelivered_event_submits_once(stack: Stack, tenant: Tenant) -> None:
    """EventBridge delivers at least once: the same event (same id) twice is one job, one create."""
    event = load_event("bus/generation_requested.json")
    event["id"] = str(uuid.uuid4())
    event["detail"]["tenantId"] = tenant.tenant_id
    before = creates_sent(stack)
    first = stack.aws.runner.invoke("SubmitEventFunction", event)
    second = stack.aws.runner.invoke("SubmitEventFunction", event)
    assert first["job_id"] == second["job_id"]
    assert first["reference"] == event["detail"]["body"]["reference"]
    assert second["duplicate"] is True
    assert creates_sent(stack) == before + 1


def test_the_submit_source_is_the_documented_one() -> None:
    assert SUBMIT_SOURCE == "runway-bridge.requests"


def test_an_event_from_another_source_does_not_submit(
    api: httpx.Client, stack: Stack, tenant: Tenant
) -> None:
    rejections = listen_for(stack, "Generation Rejected")
    before = creates_sent(stack)
    for source in ("com.example.orders", "runway-bridge"):  # anyone else, or posing as the bridge
        reference = f"order-{uuid.uuid4().hex[:8]}"
        body = {**sample_body("text_to_video"), "reference": reference}
        put_request(stack, {"tenantId": tenant.tenant_id, "operation": "text_to_video", "body": body}, source)
        # A real submit of the same shape, after it: once it is seen, the foreign one had its chance.
        marker = f"marker-{uuid.uuid4().hex[:8]}"
        put_request(
            stack,
            {
                "tenantId": tenant.tenant_id,
                "operation": "text_to_video",
                "body": {**sample_body("text_to_video"), "reference": marker},
            },
        )
        assert len(wait_for_jobs(api, tenant, marker, 1)) == 1
        assert wait_for_jobs(api, tenant, reference, 0) == []
    assert creates_sent(stack) == before + 2  # the two markers only
    sqs = stack.aws.boto3_client("sqs")
    assert sqs.receive_message(QueueUrl=rejections, WaitTimeSeconds=1).get("Messages", []) == []


def test_an_event_for_an_unknown_tenant_is_rejected_and_nothing_is_sent(stack: Stack) -> None:
    rejections = listen_for(stack, "Generation Rejected")
    before = creates_sent(stack)
    reference = f"order-{uuid.uuid4().hex[:8]}"
    body = {**sample_body("text_to_video"), "reference": reference}
    put_request(stack, {"tenantId": "nobody-we-know", "operation": "text_to_video", "body": body})

    rejection = receive_one(stack, rejections)
    assert rejection["detail"]["code"] == "unknown_tenant"
    assert rejection["detail"]["tenantId"] == "nobody-we-know"
    assert rejection["detail"]["reference"] == reference
    assert creates_sent(stack) == before
