"""The bridge API end to end over loopback HTTP: local API Gateway → real authorizer → real API
function → moto (DynamoDB, S3, Secrets Manager) → the Runway emulator."""

from __future__ import annotations

import concurrent.futures
import uuid
from typing import Any

import httpx
import pytest

from runway_bridge.models.operations import OPERATIONS
from tests.e2e.api.conftest import (
    Stack,
    Tenant,
    creates_sent,
    load_event,
    new_tenant,
    sample_body,
    stored_job_items,
)


def create(
    api: httpx.Client, tenant: Tenant, operation: str, body: dict[str, Any], **headers: str
) -> httpx.Response:
    return api.post(f"/v1/{operation}", json=body, headers={**tenant.bearer, **headers})


def assert_error_shape(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert isinstance(body["error"], str)
    assert body["error"]
    assert isinstance(body["code"], str)
    assert body["code"]
    assert "Traceback" not in response.text
    return body


# --- auth and tenants --------------------------------------------------------------------------------


def test_no_key_wrong_key_and_revoked_key_are_refused(api: httpx.Client, tenant: Tenant) -> None:
    from runway_bridge_dev.keys_cli import revoke_key  # noqa: PLC0415

    body = sample_body("text_to_video")
    assert api.post("/v1/text_to_video", json=body).status_code == 401
    assert (
        api.post("/v1/text_to_video", json=body, headers={"Authorization": "Bearer rwb_nope"}).status_code
        == 401
    )
    assert api.get("/v1/tasks", headers={"x-api-key": "rwb_nope"}).status_code == 401

    assert api.get("/v1/tasks", headers={"x-api-key": tenant.key}).status_code == 200
    assert revoke_key(tenant.key) is True
    assert api.get("/v1/tasks", headers=tenant.bearer).status_code == 401
    assert revoke_key(tenant.key + "x") is False


def test_another_tenant_cannot_see_list_or_cancel_a_job(
    api: httpx.Client, tenant: Tenant, other_tenant: Tenant
) -> None:
    job_id = create(api, tenant, "text_to_video", sample_body("text_to_video")).json()["id"]
    assert_error_shape(api.get(f"/v1/tasks/{job_id}", headers=other_tenant.bearer), 404)
    assert_error_shape(api.delete(f"/v1/tasks/{job_id}", headers=other_tenant.bearer), 404)
    listed = api.get("/v1/tasks", headers=other_tenant.bearer).json()
    assert job_id not in [task["id"] for task in listed["data"]]
    # Still the owner's, untouched.
    assert api.get(f"/v1/tasks/{job_id}", headers=tenant.bearer).json()["status"] in {"PENDING", "RUNNING"}


# --- submit, read, list, delete ------------------------------------------------------------------------


@pytest.mark.parametrize("operation", OPERATIONS)
def test_each_operation_is_submitted_once_and_readable_in_runway_shape(
    api: httpx.Client, stack: Stack, tenant: Tenant, operation: str
) -> None:
    body = sample_body(operation)
    before = creates_sent(stack)
    response = create(api, tenant, operation, body)
    assert response.status_code == 200, response.text
    job_id = response.json()["id"]
    assert creates_sent(stack) == before + 1

    task = api.get(f"/v1/tasks/{job_id}", headers=tenant.bearer).json()
    assert task["id"] == job_id
    assert task["status"] in {"PENDING", "RUNNING", "THROTTLED"}
    assert task["bridge"]["operation"] == operation
    assert task["bridge"]["runwayTaskId"]
    assert task["bridge"]["runwayTaskId"] != job_id
    # Bridge fields were stored, not forwarded (the emulator refuses unknown fields: the create
    # would have failed otherwise).
    if isinstance(body.get("reference"), str):
        assert task["bridge"]["reference"] == body["reference"]
    assert task["bridge"].get("metadata") == body.get("metadata")


def test_list_by_status_and_reference_paginates(api: httpx.Client, tenant: Tenant) -> None:
    reference = f"ref-{uuid.uuid4().hex[:8]}"
    ids = set()
    for _ in range(3):
        body = {**sample_body("text_to_video"), "reference": reference}
        ids.add(create(api, tenant, "text_to_video", body).json()["id"])
    create(api, tenant, "text_to_video", {**sample_body("text_to_video"), "reference": "another"})

    seen: list[str] = []
    cursor: str | None = None
    for _ in range(5):
        params = {"reference": reference, "limit": "2", **({"cursor": cursor} if cursor else {})}
        page = api.get("/v1/tasks", params=params, headers=tenant.bearer).json()
        seen += [task["id"] for task in page["data"]]
        cursor = page.get("nextCursor")
        if not cursor:
            break
    assert sorted(seen) == sorted(ids)

    pending = api.get("/v1/tasks", params={"status": "PENDING", "limit": "100"}, headers=tenant.bearer).json()
    assert all(task["bridge"]["status"] == "PENDING" for task in pending["data"])
    assert_error_shape(api.get("/v1/tasks", params={"limit": "0"}, headers=tenant.bearer), 400)
    assert_error_shape(api.get("/v1/tasks", params={"status": "NOPE"}, headers=tenant.bearer), 400)


def test_delete_cancels_an_unfinished_job_at_runway(api: httpx.Client, stack: Stack, tenant: Tenant) -> None:
    job_id = create(api, tenant, "text_to_video", sample_body("text_to_video")).json()["id"]
    deletes_before = stack.emulator.counters().get("DELETE /v1/tasks/{id}", 0) if stack.emulator else 0
    response = api.delete(f"/v1/tasks/{job_id}", headers=tenant.bearer)
    assert response.status_code == 204, response.text
    assert stack.emulator is not None
    assert stack.emulator.counters().get("DELETE /v1/tasks/{id}", 0) == deletes_before + 1
    task = api.get(f"/v1/tasks/{job_id}", headers=tenant.bearer).json()
    assert task["status"] == "CANCELLED"
    assert task["bridge"]["status"] == "CANCELLED"


def test_unknown_task_id_is_404(api: httpx.Client, tenant: Tenant) -> None:
    assert_error_shape(api.get(f"/v1/tasks/{uuid.uuid4()}", headers=tenant.bearer), 404)


def test_upload_is_passed_through(api: httpx.Client, tenant: Tenant) -> None:
    response = api.post(
        "/v1/uploads", json={"filename": "frame.png", "type": "ephemeral"}, headers=tenant.bearer
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["runwayUri"].startswith("runway://")
    assert answer["uploadUrl"].startswith("http://127.0.0.1")
    assert_error_shape(api.post("/v1/uploads", json={"filename": "../x"}, headers=tenant.bearer), 400)


# --- validation: 400, nothing sent, nothing stored -------------------------------------------------------

INVALID_BODIES: list[tuple[str, dict[str, Any]]] = [
    ("text_to_video", {**sample_body("text_to_video"), "duration": 7}),
    ("text_to_video", {**sample_body("text_to_video"), "ratio": "1:1"}),
    ("text_to_video", {**sample_body("text_to_video"), "promptText": "x" * 1001}),
    ("text_to_video", {**sample_body("text_to_video"), "promptText": ""}),
    ("text_to_video", {**sample_body("text_to_video"), "model": "gen2"}),
    ("text_to_video", {**sample_body("text_to_video"), "duration": "5"}),
    ("text_to_video", {**sample_body("text_to_video"), "surprise": 1}),
    ("image_to_video", {**sample_body("image_to_video"), "promptImage": "http://example.com/a.jpg"}),
    ("image_to_video", {k: v for k, v in sample_body("image_to_video").items() if k != "promptImage"}),
    ("video_to_video", {**sample_body("video_to_video"), "videoUri": "data:video/mp4;base64,AAAA"}),
    ("video_upscale", {**sample_body("video_upscale"), "videoUri": "ftp://example.com/a.mp4"}),
    ("lip_sync", {k: v for k, v in sample_body("lip_sync").items() if k != "audio"}),
    ("sound_effect", {**sample_body("sound_effect"), "duration": 0}),
    ("frame_interpolation", {**sample_body("frame_interpolation"), "model": "frame_interpolation_v9"}),
    ("text_to_video", {**sample_body("text_to_video"), "callbackUrl": "https://127.0.0.1/hook"}),
    ("text_to_video", {**sample_body("text_to_video"), "callbackUrl": "https://169.254.169.254/latest"}),
    ("text_to_video", {**sample_body("text_to_video"), "callbackUrl": "http://example.com/hook"}),
    ("text_to_video", {**sample_body("text_to_video"), "events": ["task.exploded"]}),
    ("text_to_video", {**sample_body("text_to_video"), "reference": ""}),
]


def test_every_spec_violation_is_400_with_nothing_sent_and_nothing_stored(
    api: httpx.Client, stack: Stack
) -> None:
    tenant = new_tenant("v")
    before_sent = creates_sent(stack)
    before_items = len(stored_job_items(stack))
    for operation, body in INVALID_BODIES:
        response = create(api, tenant, operation, body)
        assert_error_shape(response, 400)
    for raw in (b"", b"not json", b"[1, 2]", b'"text"'):
        response = api.post(
            "/v1/text_to_video", content=raw, headers={**tenant.bearer, "Content-Type": "application/json"}
        )
        assert_error_shape(response, 400)
    assert creates_sent(stack) == before_sent
    assert len(stored_job_items(stack)) == before_items


def test_callback_refusal_says_why(api: httpx.Client, tenant: Tenant) -> None:
    body = {**sample_body("text_to_video"), "callbackUrl": "https://10.0.0.7/hook"}
    error = assert_error_shape(create(api, tenant, "text_to_video", body), 400)
    assert "callback" in (error["error"] + error["code"]).lower()


# --- idempotency -------------------------------------------------------------------------------------


def test_same_idempotency_key_twice_is_one_runway_create(
    api: httpx.Client, stack: Stack, tenant: Tenant
) -> None:
    body = sample_body("image_to_video")
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    before = creates_sent(stack)
    first = create(api, tenant, "image_to_video", body, **key)
    second = create(api, tenant, "image_to_video", body, **key)
    assert first.status_code == second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    assert creates_sent(stack) == before + 1
    # The key is per tenant: another tenant's same key is its own job.
    other = new_tenant("o")
    third = create(api, other, "image_to_video", body, **key)
    assert third.status_code == 200
    assert third.json()["id"] != first.json()["id"]
    assert creates_sent(stack) == before + 2
    # Same key, another body: 422, nothing sent.
    changed = {**body, "promptText": "something else"}
    assert_error_shape(create(api, tenant, "image_to_video", changed, **key), 422)
    assert creates_sent(stack) == before + 2


@pytest.mark.slow
def test_twenty_racing_requests_with_one_key_make_one_runway_create(
    api: httpx.Client, stack: Stack, tenant: Tenant
) -> None:
    body = sample_body("text_to_video")
    key = {"Idempotency-Key": f"race-{uuid.uuid4()}"}
    assert stack.emulator is not None
    stack.emulator.update(latency_s=0.5)  # keep the first create in flight while the others land
    before = creates_sent(stack)
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
            responses = list(pool.map(lambda _: create(api, tenant, "text_to_video", body, **key), range(20)))
    finally:
        stack.emulator.update(latency_s=0.0)
    statuses = sorted(response.status_code for response in responses)
    assert set(statuses) <= {200, 409}, statuses
    ids = {response.json()["id"] for response in responses if response.status_code == 200}
    assert len(ids) == 1
    for response in responses:
        if response.status_code == 409:
            assert_error_shape(response, 409)
    assert creates_sent(stack) == before + 1


# --- the served OpenAPI document and the sample events -----------------------------------------------------


def test_openapi_document_is_served_without_a_key_and_lists_every_route(api: httpx.Client) -> None:
    response = api.get("/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    paths = document["paths"]
    for operation in OPERATIONS:
        post = paths[f"/v1/{operation}"]["post"]
        schema = post["requestBody"]["content"]["application/json"]["schema"]
        assert "callbackUrl" in schema["properties"]
        assert "model" in schema["properties"]
    assert {"get", "delete"} <= set(paths["/v1/tasks/{task_id}"])
    assert "get" in paths["/v1/tasks"]
    assert "post" in paths["/v1/uploads"]


def test_sample_events_drive_the_api_function(stack: Stack) -> None:
    """Each events/api sample, invoked as API Gateway would, answers what its route promises."""
    from runway_bridge_dev.keys_cli import create_key  # noqa: PLC0415

    # The samples act for "tenant-sample"; make that tenant exist (its key is not needed: the
    # authorizer context in the sample already names it).
    create_key("tenant-sample", "samples")
    created = stack.aws.runner.invoke("ApiFunction", load_event("api/create_text_to_video.json"))
    assert created["statusCode"] == 200, created
    health = stack.aws.runner.invoke("ApiFunction", load_event("api/health.json"))
    assert health["statusCode"] == 200
    listed = stack.aws.runner.invoke("ApiFunction", load_event("api/list_tasks.json"))
    assert listed["statusCode"] == 200
    missing = stack.aws.runner.invoke("ApiFunction", load_event("api/get_task.json"))
    assert missing["statusCode"] == 404
    upload = stack.aws.runner.invoke("ApiFunction", load_event("api/create_upload.json"))
    assert upload["statusCode"] == 200


def test_keys_cli_creates_a_working_key_and_revokes_it(
    api: httpx.Client, stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    from runway_bridge_dev.cli import main  # noqa: PLC0415

    tenant_id = f"cli-{uuid.uuid4().hex[:8]}"
    assert main(["keys", "create", "--tenant", tenant_id, "--name", "laptop"]) == 0
    printed = capsys.readouterr().out
    key = next(line.split()[-1] for line in printed.splitlines() if line.startswith("key:"))
    assert api.get("/v1/tasks", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    assert main(["keys", "revoke", key]) == 0
    assert api.get("/v1/tasks", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    assert main(["keys", "revoke", key + "x"]) == 1


def test_the_whole_spec_constraint_table_is_refused_by_the_bridge(api: httpx.Client, stack: Stack) -> None:
    # The same table the emulator and the models are held to (tests/emulator/test_spec_constraints.py):
    # every required field, enum, length, URI kind, type and unknown field, per operation.
    from tests.dev.emulator.test_spec_constraints import _violations  # noqa: PLC0415

    tenant = new_tenant("table")
    before_sent = creates_sent(stack)
    before_items = len(stored_job_items(stack))
    cases = [case.values for case in _violations()]
    assert len(cases) > 100
    for operation, body in cases:
        response = api.post(f"/v1/{operation}", json=body, headers=tenant.bearer)
        assert response.status_code == 400, (operation, body, response.text)
        assert_error_shape(response, 400)
    assert creates_sent(stack) == before_sent
    assert len(stored_job_items(stack)) == before_items
