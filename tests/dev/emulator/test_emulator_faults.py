"""Auth, version header, injected faults, counters and the admin endpoints, over loopback HTTP."""

from __future__ import annotations

import time

import httpx
import pytest

from runway_bridge_dev.emulator import RunwayEmulator
from tests.dev.emulator.conftest import RUNWAY_VERSION, TEXT_TO_VIDEO, create_task

CREATE = "POST /v1/text_to_video"


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-key", "emulator-key", "Basic ZW11bGF0b3Ita2V5"],
)
def test_missing_or_wrong_key_is_401(emulator: RunwayEmulator, authorization: str | None) -> None:
    headers = {"X-Runway-Version": RUNWAY_VERSION}
    if authorization is not None:
        headers["Authorization"] = authorization
    response = httpx.post(f"{emulator.base_url}/v1/text_to_video", json=TEXT_TO_VIDEO, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]
    assert emulator.counters()["tasks_created"] == 0
    assert emulator.counters()[CREATE] == 1


@pytest.mark.parametrize("version", [None, "2023-01-01", "2024-11-07"])
def test_missing_or_wrong_version_is_400(emulator: RunwayEmulator, version: str | None) -> None:
    headers = {"Authorization": f"Bearer {emulator.api_key}"}
    if version is not None:
        headers["X-Runway-Version"] = version
    response = httpx.post(f"{emulator.base_url}/v1/text_to_video", json=TEXT_TO_VIDEO, headers=headers)
    assert response.status_code == 400
    assert "X-Runway-Version" in response.json()["error"]
    assert emulator.counters()["tasks_created"] == 0


def test_changed_api_key_takes_effect_at_once(emulator: RunwayEmulator, api: httpx.Client) -> None:
    emulator.update(api_key="rotated")
    assert api.post("/v1/text_to_video", json=TEXT_TO_VIDEO).status_code == 401
    api.headers["Authorization"] = "Bearer rotated"
    assert api.post("/v1/text_to_video", json=TEXT_TO_VIDEO).status_code == 200


def test_fail_next_answers_the_next_requests_in_order_then_recovers(
    emulator: RunwayEmulator, api: httpx.Client
) -> None:
    emulator.update(fail_next=[503, 429, 500], retry_after_s=2)
    statuses = [api.post("/v1/text_to_video", json=TEXT_TO_VIDEO) for _ in range(4)]
    assert [response.status_code for response in statuses] == [503, 429, 500, 200]
    assert statuses[0].headers["Retry-After"] == "2"
    assert statuses[1].headers["Retry-After"] == "2"
    assert "Retry-After" not in statuses[2].headers
    assert all(response.json()["error"] for response in statuses[:3])
    assert emulator.counters()[CREATE] == 4
    assert emulator.counters()["tasks_created"] == 1  # faults never create a task
    assert emulator.config.fail_next == []


def test_fail_next_applies_to_every_v1_route(emulator: RunwayEmulator, api: httpx.Client) -> None:
    task_id = create_task(api)
    emulator.update(fail_next=[502, 504])
    assert api.get(f"/v1/tasks/{task_id}").status_code == 502
    assert api.post("/v1/uploads", json={"filename": "a.png"}).status_code == 504
    assert api.get(f"/v1/tasks/{task_id}").status_code == 200


def test_error_rate_one_fails_everything_with_the_configured_statuses(
    emulator: RunwayEmulator, api: httpx.Client
) -> None:
    emulator.update(error_rate=1.0, error_statuses=[502, 503])
    statuses = {api.post("/v1/text_to_video", json=TEXT_TO_VIDEO).status_code for _ in range(30)}
    assert statuses == {502, 503}
    assert emulator.counters()["tasks_created"] == 0
    emulator.update(error_rate=0.0)
    assert api.post("/v1/text_to_video", json=TEXT_TO_VIDEO).status_code == 200


def test_error_rate_half_fails_some_but_not_all(emulator: RunwayEmulator, api: httpx.Client) -> None:
    emulator.update(error_rate=0.5)
    statuses = [api.get("/v1/tasks/unknown").status_code for _ in range(60)]
    failed = sum(status != 404 for status in statuses)
    assert 10 < failed < 50


def test_create_error_rate_fails_creates_only(emulator: RunwayEmulator, api: httpx.Client) -> None:
    task_id = create_task(api)
    emulator.update(create_error_rate=1.0, error_statuses=[429], retry_after_s=1)
    refused = [api.post("/v1/text_to_video", json=TEXT_TO_VIDEO) for _ in range(10)]
    assert {response.status_code for response in refused} == {429}
    assert refused[0].headers["Retry-After"] == "1"
    # Reads, deletes and uploads go through during the storm.
    assert api.get(f"/v1/tasks/{task_id}").status_code == 200
    assert api.post("/v1/uploads", json={"filename": "a.png"}).status_code == 200
    assert api.delete(f"/v1/tasks/{task_id}").status_code == 204
    assert emulator.counters()["tasks_created"] == 1
    emulator.update(create_error_rate=0.0)
    assert api.post("/v1/text_to_video", json=TEXT_TO_VIDEO).status_code == 200


def test_task_report_names_the_prompt_that_made_the_task(emulator: RunwayEmulator, api: httpx.Client) -> None:
    first = create_task(api, promptText="job one")
    second = create_task(api, promptText="job two")
    prompts = {report["id"]: report["promptText"] for report in emulator.tasks()}
    assert prompts == {first: "job one", second: "job two"}


def test_latency_delays_every_answer(emulator: RunwayEmulator, api: httpx.Client) -> None:
    emulator.update(latency_s=0.3)
    started = time.monotonic()
    api.post("/v1/text_to_video", json=TEXT_TO_VIDEO)
    assert time.monotonic() - started >= 0.3
    # A client that gives up first never learns the task was created: the case the bridge must handle.
    with pytest.raises(httpx.ReadTimeout):
        api.post("/v1/text_to_video", json=TEXT_TO_VIDEO, timeout=0.1)
    time.sleep(0.3)
    assert emulator.counters()["tasks_created"] == 2


def test_dropped_create_is_created_but_never_answered(emulator: RunwayEmulator, api: httpx.Client) -> None:
    emulator.update(drop_next_creates=2)
    for _ in range(2):
        with pytest.raises(httpx.RemoteProtocolError):
            api.post("/v1/text_to_video", json=TEXT_TO_VIDEO)
    answered = api.post("/v1/text_to_video", json=TEXT_TO_VIDEO)
    assert answered.status_code == 200
    counters = emulator.counters()
    assert counters[CREATE] == 3
    assert counters["tasks_created"] == 3
    assert len(emulator.tasks()) == 3
    # Only creates are dropped, and only valid ones.
    emulator.update(drop_next_creates=1)
    assert api.post("/v1/text_to_video", json={"model": "nope"}).status_code == 400
    assert api.get(f"/v1/tasks/{answered.json()['id']}").status_code == 200
    with pytest.raises(httpx.RemoteProtocolError):
        api.post("/v1/text_to_video", json=TEXT_TO_VIDEO)


def test_drop_create_rate_one_drops_every_create(emulator: RunwayEmulator, api: httpx.Client) -> None:
    emulator.update(drop_create_rate=1.0)
    for _ in range(3):
        with pytest.raises(httpx.RemoteProtocolError):
            api.post("/v1/text_to_video", json=TEXT_TO_VIDEO)
    assert emulator.counters()["tasks_created"] == 3


def test_counters_count_each_route_template_and_reset(emulator: RunwayEmulator, api: httpx.Client) -> None:
    task_id = create_task(api)
    api.get(f"/v1/tasks/{task_id}")
    api.get("/v1/tasks/does-not-exist")
    api.delete(f"/v1/tasks/{task_id}")
    api.post("/v1/uploads", json={"filename": "clip.mp4"})
    assert emulator.counters() == {
        CREATE: 1,
        "GET /v1/tasks/{id}": 2,
        "DELETE /v1/tasks/{id}": 1,
        "POST /v1/uploads": 1,
        "tasks_created": 1,
    }
    emulator.reset_counters()
    assert emulator.counters() == {"tasks_created": 0}


def test_admin_endpoints_drive_an_emulator_over_http(emulator: RunwayEmulator, api: httpx.Client) -> None:
    admin = httpx.Client(base_url=f"{emulator.base_url}/_emulator")
    create_task(api)
    assert admin.get("/counters").json() == {CREATE: 1, "tasks_created": 1}

    patched = admin.patch("/config", json={"fail_next": [500], "clock_speed": 50.0})
    assert patched.status_code == 200
    assert patched.json()["fail_next"] == [500]
    assert patched.json()["clock_speed"] == 50.0
    assert patched.json()["api_key"] == emulator.api_key  # the full config comes back
    assert api.get("/v1/tasks/x").status_code == 500

    refused = admin.patch("/config", json={"error_rate": 3})
    assert refused.status_code == 400
    assert "error_rate" in refused.json()["error"]
    assert admin.patch("/config", json={"no_such_setting": 1}).status_code == 400

    assert admin.post("/reset").status_code == 200
    assert admin.get("/counters").json() == {"tasks_created": 0}
    tasks = admin.get("/tasks").json()
    assert len(tasks) == 1
    assert tasks[0]["model"] == "gen4.5"


def test_unknown_v1_route_is_404_and_counted(emulator: RunwayEmulator, api: httpx.Client) -> None:
    response = api.post("/v1/text_to_image", json={"model": "gen4_image"})
    assert response.status_code == 404
    assert emulator.counters()["POST /v1/text_to_image"] == 1
