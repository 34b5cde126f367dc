"""Submit with a callback URL -> poller -> copier -> one verified webhook, one SNS message and one
EventBridge event, all carrying the same event id; failures reach only the matching SNS filter."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from standardwebhooks import Webhook

from runway_bridge.models.notification import Notification
from runway_bridge.models.outbox import event_id_for
from runway_bridge_dev.local.stack import LocalStack
from tests.e2e.api.conftest import sample_body
from tests.integration.notifications.conftest import PROGRESS_MODEL, Sinks, new_keyed_tenant
from tests.integration.notifications.receiver import ReceivedRequest, WebhookReceiver
from tests.integration.poller.conftest import s3_object, wait_until, watch_until_finished

pytestmark = pytest.mark.slow


def test_a_finished_job_is_announced_once_on_every_channel_with_one_event_id(
    stack: LocalStack, api: httpx.Client, receiver: WebhookReceiver, sinks: Sinks
) -> None:
    relay = stack.pollers["PublishEventsFunctionOutboxStream"]
    relay_invocations_before = relay.invocations
    tenant = new_keyed_tenant()
    body = {**sample_body("text_to_video"), "callbackUrl": receiver.url("/e2e"), "reference": "fox-1"}
    answer = api.post("/v1/text_to_video", json=body, headers=tenant.bearer)
    assert answer.status_code == 200, answer.text
    job_id = answer.json()["id"]
    view, _ = watch_until_finished(api, tenant, job_id, timeout_s=60)
    assert view["status"] == "SUCCEEDED"
    event_id = event_id_for(job_id, "task.succeeded")

    def delivered() -> list[ReceivedRequest]:
        return [request for request in receiver.requests if request.path == "/e2e"]

    requests = wait_until(delivered, timeout_s=20)
    request = requests[0]
    # Standard Webhooks verification with the library, using the tenant's secret.
    payload = Webhook(tenant.webhook_secret).verify(request.body, request.headers)
    assert request.headers["webhook-id"] == event_id
    assert request.headers["host"].startswith("hooks.receiver.test:")  # the original Host, pinned IP
    assert request.sni == "hooks.receiver.test"  # and SNI: the certificate was checked for the name
    notification = Notification.model_validate(payload)
    assert notification.id == event_id
    assert notification.type == "task.succeeded"
    data = notification.model_dump(by_alias=True)["data"]
    assert data["jobId"] == job_id
    assert data["reference"] == "fox-1"
    assert data["status"] == "SUCCEEDED"
    output = data["outputs"][0]
    # The presigned URL downloads the very bytes the bridge stored in S3.
    assert httpx.get(output["url"], timeout=10).content == s3_object(stack, output["s3Uri"])
    # The stable link redirects to a fresh presign of the same object.
    redirect = httpx.get(output["link"], timeout=10)
    assert redirect.status_code == 302
    assert httpx.get(redirect.headers["location"], timeout=10).content == s3_object(stack, output["s3Uri"])

    sns_messages = list(wait_until(lambda: sinks.messages(sinks.sns_all), timeout_s=10))
    bus_events = wait_until(lambda: sinks.messages(sinks.bus), timeout_s=10)
    time.sleep(1.0)  # anything duplicated would have arrived by now
    sns_messages += sinks.messages(sinks.sns_all)
    bus_events += sinks.messages(sinks.bus)
    mine = [m for m in sns_messages if m["data"]["jobId"] == job_id]
    assert [m["id"] for m in mine] == [event_id]
    on_bus = [e for e in bus_events if e["detail"]["data"]["jobId"] == job_id]
    assert [(e["detail-type"], e["source"], e["detail"]["id"]) for e in on_bus] == [
        ("Task Succeeded", "runway-bridge", event_id)
    ]
    assert len(delivered()) == 1
    # The relay woke once for this job's life: for its outcome event, not for each of its updates
    # (its callback did not ask for progress).
    assert relay.invocations - relay_invocations_before == 1
    # The filtered subscription (status = FAILED) got nothing about a success.
    assert [m for m in sinks.messages(sinks.sns_failed_only) if m["data"]["jobId"] == job_id] == []


def test_a_failed_job_reaches_the_subscription_filtered_on_failures(
    stack: LocalStack, api: httpx.Client, sinks: Sinks
) -> None:
    tenant = new_keyed_tenant()
    failing = {**sample_body("text_to_video"), "promptText": "a fox [fail:SAFETY.INPUT.TEXT]"}
    succeeding = sample_body("text_to_video")
    failed_id = api.post("/v1/text_to_video", json=failing, headers=tenant.bearer).json()["id"]
    ok_id = api.post("/v1/text_to_video", json=succeeding, headers=tenant.bearer).json()["id"]
    for job_id in (failed_id, ok_id):
        watch_until_finished(api, tenant, job_id, timeout_s=60)
    filtered = wait_until(lambda: sinks.messages(sinks.sns_failed_only), timeout_s=10)
    time.sleep(1.0)
    filtered += sinks.messages(sinks.sns_failed_only)
    assert {m["data"]["jobId"] for m in filtered} == {failed_id}
    assert [json.dumps(m["data"]["failureCode"]) for m in filtered] == ['"SAFETY.INPUT.TEXT"']


def test_progress_webhooks_arrive_while_running_when_asked_for_and_outcomes_stay_on_sns(
    api: httpx.Client, receiver: WebhookReceiver, sinks: Sinks
) -> None:
    tenant = new_keyed_tenant()
    body = {
        **sample_body("text_to_video"),
        "model": PROGRESS_MODEL,
        "callbackUrl": receiver.url("/progress"),
        "events": ["task.progress", "task.succeeded"],
    }
    answer = api.post("/v1/text_to_video", json=body, headers=tenant.bearer)
    assert answer.status_code == 200, answer.text
    job_id = answer.json()["id"]
    view, _ = watch_until_finished(api, tenant, job_id, timeout_s=90)
    assert view["status"] == "SUCCEEDED"

    def succeeded_delivered() -> list[Notification] | None:
        seen = [
            Notification.model_validate(Webhook(tenant.webhook_secret).verify(request.body, request.headers))
            for request in receiver.requests
        ]
        return seen if any(event.type == "task.succeeded" for event in seen) else None

    wait_until(succeeded_delivered, timeout_s=20)
    time.sleep(1.0)  # a progress step queued just before the outcome may land just after it
    events = succeeded_delivered() or []
    progress = [event for event in events if event.type == "task.progress"]
    outcome = [event for event in events if event.type == "task.succeeded"]
    assert len(outcome) == 1
    assert len(progress) >= 2, [event.type for event in events]
    progress.sort(key=lambda event: event.timestamp)
    readings = [event.model_dump(by_alias=True)["data"]["progress"] for event in progress]
    # One event per new reading (a lease taken or released changes nothing a receiver sees), rising.
    assert readings == sorted(set(readings)), readings
    assert all(0 <= reading <= 1 for reading in readings)
    assert len({event.id for event in events}) == len(events)
    assert all(event.timestamp <= outcome[0].timestamp for event in progress)
    # SNS and EventBridge consumers get the outcome only, never a progress step.
    on_sns = [m for m in sinks.messages(sinks.sns_all) if m["data"]["jobId"] == job_id]
    assert [m["type"] for m in on_sns] == ["task.succeeded"]
