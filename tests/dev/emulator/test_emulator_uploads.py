"""The upload flow (`POST /v1/uploads` then a form POST) and runway:// inputs."""

from __future__ import annotations

import httpx
import pytest
import runwayml

from runway_bridge.models.runway import UploadResponse
from runway_bridge_dev.emulator import RunwayEmulator
from tests.dev.emulator.conftest import wait_for_task


def _start_upload(api: httpx.Client, filename: str = "face.png") -> dict[str, object]:
    response = api.post("/v1/uploads", json={"filename": filename, "type": "ephemeral"})
    assert response.status_code == 200, response.text
    started: dict[str, object] = response.json()
    UploadResponse.model_validate(started)
    return started


def _image_to_video(api: httpx.Client, uri: str) -> httpx.Response:
    return api.post("/v1/image_to_video", json={"model": "gen4_turbo", "promptImage": uri})


def test_completed_upload_is_usable_as_input(api: httpx.Client) -> None:
    started = _start_upload(api)
    form = httpx.post(
        str(started["uploadUrl"]),
        data=dict(started["fields"]),  # type: ignore[call-overload]
        files={"file": ("face.png", b"\x89PNG fake image bytes", "image/png")},
    )
    assert form.status_code == 204
    created = _image_to_video(api, str(started["runwayUri"]))
    assert created.status_code == 200
    final, _ = wait_for_task(api, created.json()["id"])
    assert final["status"] == "SUCCEEDED"


def test_upload_not_yet_posted_is_refused_as_input(emulator: RunwayEmulator, api: httpx.Client) -> None:
    started = _start_upload(api)
    refused = _image_to_video(api, str(started["runwayUri"]))
    assert refused.status_code == 400
    assert "runway://" in refused.json()["error"]
    assert emulator.counters()["tasks_created"] == 0


@pytest.mark.parametrize("uri", ["runway://uploads/0000-unknown", "runway://somewhere-else"])
def test_unknown_runway_uri_is_400(emulator: RunwayEmulator, api: httpx.Client, uri: str) -> None:
    refused = api.post(
        "/v1/character_performance",
        json={
            "model": "act_two",
            "character": {"type": "image", "uri": uri},
            "reference": {"type": "video", "uri": "https://example.com/ref.mp4"},
        },
    )
    assert refused.status_code == 400
    assert emulator.counters()["tasks_created"] == 0


def test_form_with_wrong_signature_or_no_file_is_refused(api: httpx.Client) -> None:
    started = _start_upload(api)
    fields = dict(started["fields"])  # type: ignore[call-overload]
    wrong = {**fields, "signature": "0" * 64}
    assert (
        httpx.post(str(started["uploadUrl"]), data=wrong, files={"file": ("a.png", b"x")}).status_code == 403
    )
    assert (
        httpx.post(str(started["uploadUrl"]), data=fields, files={"other": ("a.png", b"x")}).status_code
        == 400
    )
    assert _image_to_video(api, str(started["runwayUri"])).status_code == 400


@pytest.mark.parametrize("body", [{}, {"filename": ""}, {"filename": "../etc/passwd"}, {"filename": "noext"}])
def test_invalid_upload_request_is_400(api: httpx.Client, body: dict[str, object]) -> None:
    response = api.post("/v1/uploads", json=body)
    assert response.status_code == 400
    assert response.json()["error"]


def test_official_sdk_upload_then_create(emulator: RunwayEmulator) -> None:
    client = runwayml.RunwayML(api_key=emulator.api_key, base_url=emulator.base_url, max_retries=0)
    uploaded = client.uploads.create_ephemeral(file=("portrait.png", b"\x89PNG not really"))
    assert uploaded.uri.startswith("runway://")
    created = client.image_to_video.create(model="gen4_turbo", prompt_image=uploaded.uri, ratio="1280:720")
    assert client.tasks.retrieve(created.id).id == created.id
    assert emulator.counters()["tasks_created"] == 1
