"""What a console reads from the API, on the whole local stack: the single task view's stable
output links (followed without a key, they serve the output's bytes) and timeline, and the
tenant's dead-lettered webhook deliveries."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from runway_bridge.adapters.notifications.webhook_queue import SqsWebhookDeadLetters
from runway_bridge.models.notification import WebhookMessage
from tests.e2e.api.conftest import Stack, Tenant, new_tenant, sample_body, start_stack


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    running = start_stack()  # the fast profile at full speed: a task takes seconds
    try:
        yield running
    finally:
        running.stop()


def submit(api: httpx.Client, tenant: Tenant, operation: str = "text_to_video", **bridge: Any) -> str:
    response = api.post(f"/v1/{operation}", json={**sample_body(operation), **bridge}, headers=tenant.bearer)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def finished(api: httpx.Client, tenant: Tenant, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120  # generous: a loaded machine only stretches the wait
    while True:
        task: dict[str, Any] = api.get(f"/v1/tasks/{job_id}", headers=tenant.bearer).json()
        if task["bridge"]["status"] in {"SUCCEEDED", "FAILED"} or time.monotonic() > deadline:
            return task
        time.sleep(0.5)


def test_a_stable_link_in_the_view_serves_the_outputs_bytes_without_a_key(
    api: httpx.Client, stack: Stack
) -> None:
    tenant = new_tenant("links")
    task = finished(api, tenant, submit(api, tenant))
    assert task["bridge"]["status"] == "SUCCEEDED"
    [output] = task["bridge"]["outputs"]
    assert output["link"].startswith(f"{stack.api_url}/v1/outputs/{task['id']}/0?expires=")
    assert output["linkExpiresAt"]
    with httpx.Client(timeout=40, follow_redirects=True) as anonymous:
        served = anonymous.get(output["link"])
    assert served.status_code == 200
    assert served.history[0].status_code == 302
    assert hashlib.sha256(served.content).hexdigest() == output["sha256"]
    assert len(served.content) == output["size"]
    # Lists never carry links.
    listed = api.get("/v1/tasks", headers=tenant.bearer).json()["data"][0]
    assert "link" not in listed["bridge"]["outputs"][0]


def test_the_view_tells_the_jobs_life_in_order(api: httpx.Client, stack: Stack) -> None:
    tenant = new_tenant("timeline")
    task = finished(api, tenant, submit(api, tenant))
    timeline = task["bridge"]["timeline"]
    assert [entry["at"] for entry in timeline] == sorted(entry["at"] for entry in timeline)
    assert timeline[0]["kind"] == "submitted"
    statuses = [entry["status"] for entry in timeline if entry["kind"] == "status"]
    assert statuses[0] == "QUEUED"
    assert statuses[-2:] == ["COPYING", "SUCCEEDED"]
    [known] = [entry for entry in timeline if entry["kind"] == "runway_task"]
    assert known["detail"] == task["bridge"]["runwayTaskId"]
    assert [e["eventType"] for e in timeline if e["kind"] == "notification"] == ["task.succeeded"]
    # Every entry carries every key, null where its kind has no value.
    assert all(set(entry) == {"at", "kind", "status", "eventType", "attempt", "detail"} for entry in timeline)
    assert timeline[0]["status"] is None


def test_the_dead_letter_list_shows_the_callers_letters_and_moves_nothing(
    api: httpx.Client, stack: Stack
) -> None:
    mine, theirs = new_tenant("dl-a"), new_tenant("dl-b")
    queue = SqsWebhookDeadLetters(
        stack.aws.boto3_client("sqs"),
        queue_url=str(stack.aws.resolve({"Ref": "WebhookQueue"})),
        dead_letter_queue_url=str(stack.aws.resolve({"Ref": "WebhookDeadLetterQueue"})),
    )
    for tenant, count in ((mine, 2), (theirs, 3)):
        for n in range(count):
            message = WebhookMessage(
                event_id=f"{tenant.tenant_id}-e{n}",
                job_id=f"{tenant.tenant_id}-j{n}",
                tenant_id=tenant.tenant_id,
                type="task.failed",
            )
            queue.dead_letter(message, reason="the receiver answered 503")

    def listed(tenant: Tenant) -> list[dict[str, Any]]:
        response = api.get("/v1/webhooks/dead-letters", headers=tenant.bearer)
        assert response.status_code == 200, response.text
        data: list[dict[str, Any]] = response.json()["data"]
        return data

    first = listed(mine)
    assert sorted(letter["eventId"] for letter in first) == [f"{mine.tenant_id}-e0", f"{mine.tenant_id}-e1"]
    assert set(first[0]) == {"eventId", "jobId", "type", "reason", "deadLetteredAt"}
    assert (first[0]["type"], first[0]["reason"]) == ("task.failed", "the receiver answered 503")
    # The other tenant's letters were left visible, and a second look finds the same (nothing moved).
    assert len(listed(theirs)) == 3
    assert listed(mine) == first
    assert api.get("/v1/webhooks/dead-letters").status_code == 401
    document = api.get("/v1/openapi.json").json()
    answer = document["paths"]["/v1/webhooks/dead-letters"]["get"]["responses"]["200"]
    schema = answer["content"]["application/json"]["schema"]
    assert schema["properties"]["data"]["items"] == {"$ref": "#/components/schemas/DeadLetterView"}


def test_the_list_filters_by_operation_and_model_and_refuses_an_unknown_operation(
    api: httpx.Client, stack: Stack
) -> None:
    tenant = new_tenant("kinds")
    text = submit(api, tenant, "text_to_video")
    image = submit(api, tenant, "image_to_video")

    def listed(**params: str) -> list[str]:
        response = api.get("/v1/tasks", params=params, headers=tenant.bearer)
        assert response.status_code == 200, response.text
        return [task["id"] for task in response.json()["data"]]

    assert listed(operation="image_to_video") == [image]
    assert listed(operation="text_to_video") == [text]
    model = sample_body("image_to_video")["model"]
    assert image in listed(model=model)
    assert listed(operation="text_to_video", model=model) == (
        [text] if sample_body("text_to_video")["model"] == model else []
    )
    refused = api.get("/v1/tasks", params={"operation": "text_to_everything"}, headers=tenant.bearer)
    assert refused.status_code == 400
    assert set(refused.json()) == {"error", "code"}


def test_answers_with_tenant_data_are_not_kept_by_caches_but_console_assets_are(
    api: httpx.Client, stack: Stack
) -> None:
    tenant = new_tenant("cache")
    secret = api.get("/v1/webhooks/secret", headers=tenant.bearer)
    assert secret.status_code == 200
    assert secret.headers["cache-control"] == "no-store"
    tasks = api.get("/v1/tasks", headers=tenant.bearer)
    assert tasks.headers["cache-control"] == "no-store"
    page = api.get("/console")
    assert page.headers["cache-control"] == "no-store"
    asset = next(link for link in page.text.split('"') if link.startswith("console/console.js?"))
    assert "immutable" in api.get(f"/console/{asset.removeprefix('console/')}").headers["cache-control"]
