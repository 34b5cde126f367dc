"""Faults at each step of a submission, injected in the Runway emulator and the function runtime:
never two Runway tasks for one job, never a 5xx from the bridge once the job is recorded, and every
job ends visible with a truthful status."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.api.conftest import Stack, Tenant, creates_sent, emulator_of, load_event, sample_body


def tasks_created(stack: Stack) -> int:
    return emulator_of(stack).counters().get("tasks_created", 0)


def submit(api: httpx.Client, tenant: Tenant, key: str | None = None) -> httpx.Response:
    headers = {**tenant.bearer, **({"Idempotency-Key": key} if key else {})}
    return api.post("/v1/text_to_video", json=sample_body("text_to_video"), headers=headers)


def task(api: httpx.Client, tenant: Tenant, job_id: str) -> dict[str, Any]:
    response = api.get(f"/v1/tasks/{job_id}", headers=tenant.bearer)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_daily_cap_429_leaves_the_job_queued_without_waiting(
    api: httpx.Client, stack: Stack, tenant: Tenant
) -> None:
    emulator_of(stack).update(fail_next=[429], retry_after_s=3600)
    before_tasks = tasks_created(stack)
    before_posts = creates_sent(stack)
    started = time.monotonic()
    response = submit(api, tenant)
    # No waiting on a daily cap: one refused POST, answered at once. A submit that waited would take
    # its whole budget (about 24 s); 20 s leaves a loaded machine room.
    assert time.monotonic() - started < 20
    assert creates_sent(stack) == before_posts + 1
    assert response.status_code == 200, response.text
    view = task(api, tenant, response.json()["id"])
    assert view["status"] == "PENDING"  # what SDK code expects of a job not yet running
    assert view["bridge"]["status"] == "QUEUED"
    assert tasks_created(stack) == before_tasks


def test_runway_5xx_after_the_post_is_submission_unknown_not_a_5xx(
    api: httpx.Client, stack: Stack, tenant: Tenant
) -> None:
    emulator_of(stack).update(fail_next=[500])
    key = f"k-{uuid.uuid4()}"
    before = creates_sent(stack)
    response = submit(api, tenant, key)
    assert response.status_code == 200, response.text
    job_id = response.json()["id"]
    view = task(api, tenant, job_id)
    assert view["status"] == "FAILED"
    assert view["failureCode"] == "BRIDGE.SUBMISSION_UNKNOWN"
    assert view["bridge"]["status"] == "SUBMISSION_UNKNOWN"
    # The caller retries: same job, nothing resent.
    again = submit(api, tenant, key)
    assert again.json()["id"] == job_id
    assert creates_sent(stack) == before + 1


def test_accepted_then_dropped_connection_is_one_task_and_never_resent(
    api: httpx.Client, stack: Stack, tenant: Tenant
) -> None:
    emulator_of(stack).update(drop_next_creates=1)
    key = f"k-{uuid.uuid4()}"
    before_tasks, before_sent = tasks_created(stack), creates_sent(stack)
    response = submit(api, tenant, key)
    assert response.status_code == 200, response.text
    job_id = response.json()["id"]
    assert tasks_created(stack) == before_tasks + 1  # Runway did create it
    view = task(api, tenant, job_id)
    assert view["bridge"]["status"] == "SUBMISSION_UNKNOWN"
    assert view["failureCode"] == "BRIDGE.SUBMISSION_UNKNOWN"
    for _ in range(3):
        assert submit(api, tenant, key).json()["id"] == job_id
    assert creates_sent(stack) == before_sent + 1
    assert tasks_created(stack) == before_tasks + 1


def create_event(tenant: Tenant, key: str) -> dict[str, Any]:
    """The API Gateway event of events/api/create_text_to_video.json, for this tenant and key."""
    event: dict[str, Any] = load_event("api/create_text_to_video.json")
    event["requestContext"]["authorizer"] = {"principalId": tenant.tenant_id, "tenantId": tenant.tenant_id}
    event["headers"]["Idempotency-Key"] = key
    event["multiValueHeaders"]["Idempotency-Key"] = [key]
    return event


def test_an_invocation_with_too_little_time_left_answers_with_a_queued_job_and_sends_nothing(
    api: httpx.Client, stack: Stack, tenant: Tenant
) -> None:
    key = f"k-{uuid.uuid4()}"
    before_sent = creates_sent(stack)
    # The function's remaining time (2 s) leaves no time for a create and its record after the
    # answer reserve: the job is recorded and answered, and the poller sends it later.
    answer = stack.aws.runner.invoke("ApiFunction", create_event(tenant, key), timeout_s=2.0)
    assert answer["statusCode"] == 200, answer
    job_id = json.loads(answer["body"])["id"]
    assert task(api, tenant, job_id)["bridge"]["status"] == "QUEUED"
    assert creates_sent(stack) == before_sent
    # The SDK's retry with the same key gets the same job, still without a create.
    assert submit(api, tenant, key).json()["id"] == job_id
    assert creates_sent(stack) == before_sent


@pytest.mark.slow
def test_a_create_runway_is_slow_to_answer_is_cut_by_the_deadline_not_the_function_timeout(
    api: httpx.Client, stack: Stack, tenant: Tenant
) -> None:
    key = f"k-{uuid.uuid4()}"
    emulator_of(stack).update(latency_s=15.0)
    try:
        # Runway answers after the function's 10 s: the submit's deadline (the remaining time less
        # the answer reserve) ends the create's wait first, so the caller gets an answer, not a 504.
        answer = stack.aws.runner.invoke("ApiFunction", create_event(tenant, key), timeout_s=10.0)
    finally:
        emulator_of(stack).update(latency_s=0.0)
    assert answer["statusCode"] == 200, answer
    view = task(api, tenant, json.loads(answer["body"])["id"])
    # The create may have reached Runway: truthfully unknown, and never resent.
    assert view["bridge"]["status"] == "SUBMISSION_UNKNOWN"
    assert submit(api, tenant, key).json()["id"] == view["id"]
