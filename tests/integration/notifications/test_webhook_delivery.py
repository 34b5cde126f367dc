"""Webhook delivery behaviour a receiver notices: retries under one webhook-id, 410 stops, a receiver
that never answers runs the schedule out into the dead-letter queue with a `webhook.exhausted` event,
a redrive delivers after the receiver recovers, rotations sign with both secrets, and attempts show
in GET."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from runway_bridge.models.outbox import event_id_for
from runway_bridge_dev.local.stack import LocalStack
from tests.e2e.api.conftest import sample_body
from tests.integration.notifications.conftest import WEBHOOK_TIMEOUT_S, KeyedTenant, Sinks, new_keyed_tenant
from tests.integration.notifications.receiver import HANG, ReceivedRequest, WebhookReceiver
from tests.integration.poller.conftest import task_view, wait_until, watch_until_finished

pytestmark = pytest.mark.slow


def finished_job_with_callback(api: httpx.Client, tenant: KeyedTenant, url: str) -> str:
    body = {**sample_body("text_to_video"), "callbackUrl": url}
    answer = api.post("/v1/text_to_video", json=body, headers=tenant.bearer)
    assert answer.status_code == 200, answer.text
    job_id: str = answer.json()["id"]
    view, _ = watch_until_finished(api, tenant, job_id, timeout_s=60)
    assert view["status"] == "SUCCEEDED"
    return job_id


def received(receiver: WebhookReceiver, count: int, *, timeout_s: float = 30) -> list[ReceivedRequest]:
    return wait_until(
        lambda: receiver.requests if len(receiver.requests) >= count else None, timeout_s=timeout_s
    )


def deliveries(api: httpx.Client, tenant: KeyedTenant, job_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = task_view(api, tenant, job_id)["bridge"].get("webhookDeliveries", [])
    return found


def deliveries_when(
    api: httpx.Client,
    tenant: KeyedTenant,
    job_id: str,
    done: Callable[[list[dict[str, Any]]], bool],
    *,
    timeout_s: float = 15,
) -> list[dict[str, Any]]:
    def probe() -> list[dict[str, Any]] | None:
        shown = deliveries(api, tenant, job_id)
        return shown if shown and done(shown) else None

    return wait_until(probe, timeout_s=timeout_s)


def test_three_failures_then_the_fourth_attempt_arrives_with_the_same_webhook_id(
    api: httpx.Client, receiver: WebhookReceiver
) -> None:
    receiver.set_statuses([500, 502, 503])
    tenant = new_keyed_tenant()
    job_id = finished_job_with_callback(api, tenant, receiver.url("/flaky"))
    requests = received(receiver, 4)
    event_id = event_id_for(job_id, "task.succeeded")
    assert [request.headers["webhook-id"] for request in requests] == [event_id] * 4
    for request in requests:  # every attempt is signed afresh (new timestamp) and verifies
        Webhook(tenant.webhook_secret).verify(request.body, request.headers)
    shown = deliveries_when(api, tenant, job_id, lambda seen: len(seen) == 4)
    assert [(d["attempt"], d["statusCode"], d["outcome"]) for d in shown] == [
        (1, 500, "retrying"),
        (2, 502, "retrying"),
        (3, 503, "retrying"),
        (4, 204, "delivered"),
    ]
    assert shown[0]["error"] == "the receiver answered 500"
    time.sleep(1.0)
    assert len(receiver.requests) == 4  # delivered: no further attempt


def test_410_stops_every_further_attempt_for_the_job(api: httpx.Client, receiver: WebhookReceiver) -> None:
    receiver.set_statuses([410])
    tenant = new_keyed_tenant()
    job_id = finished_job_with_callback(api, tenant, receiver.url("/gone"))
    received(receiver, 1)
    redeliver = api.post(f"/v1/tasks/{job_id}/webhook/redeliver", headers=tenant.bearer)
    assert redeliver.status_code == 202
    time.sleep(2.0)
    assert len(receiver.requests) == 1
    assert [d["outcome"] for d in deliveries(api, tenant, job_id)] == ["stopped"]


def test_a_receiver_that_never_answers_exhausts_the_schedule_into_the_dlq_and_a_redrive_delivers(
    stack: LocalStack, api: httpx.Client, receiver: WebhookReceiver, sinks: Sinks
) -> None:
    # Each attempt connects, sends, and waits for an answer that never comes (the stack's
    # WebhookTimeoutSeconds, not the receiver, ends it).
    receiver.set_statuses([], default_status=HANG)
    tenant = new_keyed_tenant()
    job_id = finished_job_with_callback(api, tenant, receiver.url("/down"))
    event_id = event_id_for(job_id, "task.succeeded")
    received(receiver, 8, timeout_s=90)
    attempts = deliveries_when(
        api, tenant, job_id, lambda seen: seen[-1]["outcome"] == "exhausted", timeout_s=30
    )
    assert len(attempts) == 8
    assert {attempt["error"] for attempt in attempts} == {f"no answer within {WEBHOOK_TIMEOUT_S} s"}
    assert all(attempt.get("statusCode") is None for attempt in attempts)
    exhausted = wait_until(
        lambda: [m for m in sinks.messages(sinks.sns_all) if m["type"] == "webhook.exhausted"], timeout_s=10
    )
    assert exhausted[0]["data"]["eventId"] == event_id
    assert exhausted[0]["data"]["attempts"] == 8
    assert exhausted[0]["data"]["lastStatusCode"] is None
    on_bus = wait_until(
        lambda: [e for e in sinks.messages(sinks.bus) if e["detail-type"] == "Webhook Exhausted"],
        timeout_s=10,
    )
    assert on_bus[0]["detail"]["data"]["eventId"] == event_id
    time.sleep(1.0)
    assert len(receiver.requests) == 8  # the schedule's length, no more

    receiver.set_statuses([], default_status=200)  # the receiver recovers
    redrive = api.post("/v1/webhooks/redrive", headers=tenant.bearer)
    assert redrive.status_code == 200
    assert redrive.json() == {"redriven": 1}
    requests = received(receiver, 9)
    assert requests[8].headers["webhook-id"] == event_id
    assert deliveries(api, tenant, job_id)[-1]["outcome"] == "delivered"


def test_during_a_rotation_both_secrets_verify_and_another_tenants_does_not(
    api: httpx.Client, receiver: WebhookReceiver
) -> None:
    tenant = new_keyed_tenant()
    other = new_keyed_tenant()
    job_id = finished_job_with_callback(api, tenant, receiver.url("/rotating"))
    received(receiver, 1)
    rotated = api.post("/v1/webhooks/secret/rotate", headers=tenant.bearer)
    assert rotated.status_code == 200
    new_secret = rotated.json()["secret"]
    assert new_secret.startswith("whsec_")
    assert new_secret != tenant.webhook_secret
    assert api.get("/v1/webhooks/secret", headers=tenant.bearer).json() == {"secret": new_secret}
    assert api.post(f"/v1/tasks/{job_id}/webhook/redeliver", headers=tenant.bearer).status_code == 202
    request = received(receiver, 2)[1]
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    Webhook(tenant.webhook_secret).verify(request.body, request.headers)
    Webhook(new_secret).verify(request.body, request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(other.webhook_secret).verify(request.body, request.headers)


def test_the_test_endpoint_sends_a_signed_event_and_reports_the_receivers_answer(
    api: httpx.Client, receiver: WebhookReceiver
) -> None:
    tenant = new_keyed_tenant()
    receiver.set_statuses([500])
    answer = api.post("/v1/webhooks/test", json={"url": receiver.url("/t")}, headers=tenant.bearer)
    assert answer.status_code == 200
    assert answer.json()["delivered"] is False
    assert answer.json()["statusCode"] == 500
    payload = Webhook(tenant.webhook_secret).verify(receiver.requests[0].body, receiver.requests[0].headers)
    assert payload["type"] == "webhook.test"
    ok = api.post("/v1/webhooks/test", json={"url": receiver.url("/t")}, headers=tenant.bearer)
    assert ok.json()["delivered"] is True
    # This stack allows loopback receivers, not plain http: the guard refuses before anything is sent.
    refused = api.post(
        "/v1/webhooks/test", json={"url": "http://hooks.receiver.test/t"}, headers=tenant.bearer
    )
    assert refused.status_code == 400
    assert "only https" in refused.json()["error"]
    assert len(receiver.requests) == 2


def test_redeliver_refuses_a_task_without_a_callback(api: httpx.Client) -> None:
    tenant = new_keyed_tenant()
    job_id = api.post("/v1/text_to_video", json=sample_body("text_to_video"), headers=tenant.bearer).json()[
        "id"
    ]
    answer = api.post(f"/v1/tasks/{job_id}/webhook/redeliver", headers=tenant.bearer)
    assert answer.status_code == 409
    assert api.post("/v1/tasks/nope/webhook/redeliver", headers=tenant.bearer).status_code == 404
