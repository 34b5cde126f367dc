"""`s3://` inputs through the whole local stack (template parameter `InputBuckets`, the real API
function, moto's S3, the emulator fetching inputs as Runway does): an allowed object reaches Runway
as a presigned GET that the emulator fetched, and the job succeeds; a bucket outside the allow-list,
a missing object and an object of the wrong type are 400s with nothing stored and nothing sent (a bus
event gets the same code as its rejection); a queued job whose object vanished fails unsent."""

from __future__ import annotations

import json
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.api.conftest import (
    Stack,
    Tenant,
    creates_sent,
    emulator_of,
    start_stack,
    stored_job_items,
)
from tests.e2e.api.test_api_end_to_end import assert_error_shape
from tests.e2e.api.test_event_submit import listen_for, put_request, receive_one

SUFFIX = uuid.uuid4().hex[:8]
ALLOWED = f"in-ok-{SUFFIX}"
ALSO_ALLOWED = f"in-two-{SUFFIX}"
NOT_ALLOWED = f"in-other-{SUFFIX}"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    running = start_stack({"InputBuckets": f"{ALLOWED},{ALSO_ALLOWED}"}, clock_speed=2.0)
    try:
        s3 = running.aws.boto3_client("s3")
        for bucket in (ALLOWED, ALSO_ALLOWED, NOT_ALLOWED):
            s3.create_bucket(Bucket=bucket)
        yield running
    finally:
        running.stop()


def _put(stack: Stack, bucket: str, key: str, body: bytes, content_type: str) -> str:
    stack.aws.boto3_client("s3").put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
    return f"s3://{bucket}/{key}"


def _image_to_video(uri: str) -> dict[str, Any]:
    return {"model": "gen4_turbo", "promptImage": uri, "promptText": "a slow pan", "ratio": "1280:720"}


def _wait_for_status(api: httpx.Client, tenant: Tenant, job_id: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + 90  # the emulator's ~6 s task at this clock, with room on a loaded machine
    while True:
        view: dict[str, Any] = api.get(f"/v1/tasks/{job_id}", headers=tenant.bearer).json()
        if view["bridge"]["status"] in (status, "FAILED") or time.monotonic() > deadline:
            return view
        time.sleep(0.5)


def test_an_allowed_object_reaches_runway_as_a_fetched_presigned_get(
    api: httpx.Client, stack: Stack, tenant: Tenant
) -> None:
    uri = _put(stack, ALLOWED, "frames/first frame.png", PNG, "image/png")
    emulator = emulator_of(stack)
    before = {task["id"] for task in emulator.tasks()}

    answer = api.post("/v1/image_to_video", json=_image_to_video(uri), headers=tenant.bearer)
    assert answer.status_code == 200, answer.text
    job_id = answer.json()["id"]

    view = _wait_for_status(api, tenant, job_id, "SUCCEEDED")
    assert view["bridge"]["status"] == "SUCCEEDED", view
    [task] = [task for task in emulator.tasks() if task["id"] not in before]
    assert task["id"] == view["bridge"]["runwayTaskId"]
    # What Runway received: a presigned GET of the object on S3 (moto), which it fetched.
    [fetched] = task["inputsFetched"]
    url = urllib.parse.urlsplit(fetched["url"])
    assert (fetched["field"], fetched["status"], fetched["contentType"]) == ("promptImage", 200, "image/png")
    assert fetched["bytesRead"] == len(PNG)
    assert url.scheme == "http"
    assert url.hostname == "127.0.0.1"
    assert urllib.parse.unquote(url.path) == f"/{ALLOWED}/frames/first frame.png"
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url.query  # SigV4 (S3 has deprecated SigV2)
    # The job keeps s3:// (no expiring URL is stored).
    [item] = [item for item in stored_job_items(stack) if job_id in json.dumps(item)]
    stored = json.dumps(item)
    assert uri in stored
    assert "Signature" not in stored


def _refused(
    api: httpx.Client, stack: Stack, tenant: Tenant, body: dict[str, Any], code: str
) -> dict[str, Any]:
    emulator = emulator_of(stack)
    before = (creates_sent(stack), len(emulator.tasks()), len(stored_job_items(stack)))
    error = assert_error_shape(api.post("/v1/image_to_video", json=body, headers=tenant.bearer), 400)
    assert error["code"] == code, error
    # Nothing sent to Runway, no task there, no job stored.
    assert (creates_sent(stack), len(emulator.tasks()), len(stored_job_items(stack))) == before
    return error


def test_a_bucket_outside_the_allow_list_is_a_400_and_runway_sees_nothing(
    api: httpx.Client, stack: Stack, tenant: Tenant
) -> None:
    uri = _put(stack, NOT_ALLOWED, "x.png", PNG, "image/png")  # it exists: only the list refuses it
    error = _refused(api, stack, tenant, _image_to_video(uri), "s3_bucket_not_allowed")
    assert NOT_ALLOWED in error["error"]
    assert ALLOWED in error["error"]


def test_a_missing_object_is_a_400(api: httpx.Client, stack: Stack, tenant: Tenant) -> None:
    body = _image_to_video(f"s3://{ALSO_ALLOWED}/never-written.png")
    _refused(api, stack, tenant, body, "s3_input_not_found")


def test_an_object_of_the_wrong_type_is_a_400(api: httpx.Client, stack: Stack, tenant: Tenant) -> None:
    uri = _put(stack, ALLOWED, "notes.txt", b"not an image", "text/plain")
    error = _refused(api, stack, tenant, _image_to_video(uri), "s3_input_wrong_type")
    assert "text/plain" in error["error"]


def test_the_served_document_shows_s3_inputs(api: httpx.Client) -> None:
    document = api.get("/v1/openapi.json").json()
    body = document["paths"]["/v1/image_to_video"]["post"]["requestBody"]["content"]["application/json"]
    assert "s3://" in body["schema"]["properties"]["promptImage"]["pattern"]


def test_an_event_naming_a_bucket_outside_the_list_is_rejected_with_its_code(
    stack: Stack, tenant: Tenant
) -> None:
    rejections = listen_for(stack, "Generation Rejected")
    before = (creates_sent(stack), len(emulator_of(stack).tasks()))
    reference = f"order-{uuid.uuid4().hex[:8]}"
    body = {**_image_to_video(f"s3://{NOT_ALLOWED}/x.png"), "reference": reference}
    put_request(stack, {"tenantId": tenant.tenant_id, "operation": "image_to_video", "body": body})

    rejection = receive_one(stack, rejections)
    assert rejection["detail"]["code"] == "s3_bucket_not_allowed"
    assert rejection["detail"]["reference"] == reference
    assert (creates_sent(stack), len(emulator_of(stack).tasks())) == before


# Last in the module: Runway's 429 holds every create for a while.
def test_a_queued_job_whose_object_vanished_fails_unsent(
    api: httpx.Client, stack: Stack, tenant: Tenant
) -> None:
    uri = _put(stack, ALLOWED, "frames/short-lived.png", PNG, "image/png")
    emulator = emulator_of(stack)
    # Runway answers the create 429 with a long Retry-After: the job waits QUEUED for the poller.
    emulator.update(fail_next=[429], retry_after_s=20.0)
    try:
        answer = api.post("/v1/image_to_video", json=_image_to_video(uri), headers=tenant.bearer)
        assert answer.status_code == 200, answer.text
        job_id = answer.json()["id"]
        stack.aws.boto3_client("s3").delete_object(Bucket=ALLOWED, Key="frames/short-lived.png")
        tasks_before = len(emulator.tasks())
        view = _wait_for_status(api, tenant, job_id, "FAILED")
    finally:
        emulator.update(retry_after_s=None)
    assert view["bridge"]["status"] == "FAILED", view
    assert view["failureCode"] == "BRIDGE.INPUT_MISSING"
    assert "no such object" in view["failure"]
    assert len(emulator.tasks()) == tasks_before  # the poller never sent it
