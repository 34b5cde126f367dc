"""Every constraint in the spec has a case here: a violating body gets a 400 `{"error": ...}` from the
emulator AND a ValidationError from our models, and creates no task. Each operation also has a
valid body that both accept."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from runway_bridge.models.operations import OPERATIONS, REGISTRY, validate_create_request
from runway_bridge_dev.emulator import EmulatorConfig, RunwayEmulator
from tests.dev.emulator.conftest import api_client

HTTPS_VIDEO = "https://media.example.com/in.mp4"
HTTPS_IMAGE = "https://media.example.com/in.png"
DATA_IMAGE = "data:image/png;base64,iVBORw0KGgo="
TOO_LONG = "x" * 1001
# URI kinds a field taking only HTTPS or runway:// must refuse, and those every URI field refuses.
NOT_HTTPS_OR_RUNWAY = {
    "http": "http://media.example.com/in.mp4",
    "ftp": "ftp://media.example.com/in.mp4",
    "plain": "in.mp4",
    "data": DATA_IMAGE,
    "empty-https": "https://",
}
NOT_ANY_URI = {key: value for key, value in NOT_HTTPS_OR_RUNWAY.items() if key != "data"}

VALID: dict[str, dict[str, Any]] = {
    "image_to_video": {
        "model": "gen4_turbo",
        "promptImage": HTTPS_IMAGE,
        "promptText": "waves",
        "duration": 10,
        "ratio": "960:960",
    },
    "text_to_video": {"model": "veo3.1", "promptText": "a fox", "duration": 5, "ratio": "720:1280"},
    "video_to_video": {
        "model": "gen4_aleph",
        "promptVideo": HTTPS_VIDEO,
        "promptText": "snow",
        "ratio": "1280:720",
    },
    "character_performance": {
        "model": "act_two",
        "character": {"type": "image", "uri": HTTPS_IMAGE},
        "reference": {"type": "video", "uri": HTTPS_VIDEO},
        "ratio": "1104:832",
    },
    "lip_sync": {"model": "gen4", "input": HTTPS_VIDEO, "audio": "https://media.example.com/voice.mp3"},
    "video_upscale": {"model": "upscale_v1", "videoUri": HTTPS_VIDEO},
    "frame_interpolation": {"model": "frame_interpolation_v1", "videoUri": HTTPS_VIDEO},
    "sound_effect": {
        "model": "sound_effect_v1",
        "promptText": "rain on a tin roof",
        "videoUri": HTTPS_VIDEO,
        "duration": 4,
    },
}
REQUIRED = {
    "image_to_video": ["model", "promptImage"],
    "text_to_video": ["model", "promptText"],
    "video_to_video": ["model", "promptVideo", "promptText"],
    "character_performance": [
        "model",
        "character",
        "reference",
        "character.type",
        "character.uri",
        "reference.type",
        "reference.uri",
    ],
    "lip_sync": ["model", "input", "audio"],
    "video_upscale": ["model", "videoUri"],
    "frame_interpolation": ["model", "videoUri"],
    "sound_effect": ["model", "promptText"],
}
# Enum fields and a value outside each enum.
ENUM_VIOLATIONS = {
    "image_to_video": {"model": "gen3a_turbo", "ratio": "1920:1080", "duration": 7},
    "text_to_video": {"model": "gen4_turbo", "ratio": "16:9", "duration": 8},
    "video_to_video": {"model": "gen4", "ratio": "1280:721"},
    "character_performance": {
        "model": "act_one",
        "ratio": "720:720",
        "character.type": "audio",
        "reference.type": "text",
    },
    "lip_sync": {"model": "gen4.5"},
    "video_upscale": {"model": "upscale_v2"},
    "frame_interpolation": {"model": "frame_interpolation_v2"},
    "sound_effect": {"model": "sound_effect_v2"},
}
TEXT_FIELDS = {
    "image_to_video": ["promptText"],
    "text_to_video": ["promptText"],
    "video_to_video": ["promptText"],
    "sound_effect": ["promptText"],
}
URI_FIELDS: dict[str, dict[str, dict[str, str]]] = {
    "image_to_video": {"promptImage": NOT_ANY_URI},
    "video_to_video": {"promptVideo": NOT_HTTPS_OR_RUNWAY},
    "character_performance": {"character.uri": NOT_HTTPS_OR_RUNWAY, "reference.uri": NOT_HTTPS_OR_RUNWAY},
    "lip_sync": {"input": NOT_HTTPS_OR_RUNWAY, "audio": NOT_HTTPS_OR_RUNWAY},
    "video_upscale": {"videoUri": NOT_HTTPS_OR_RUNWAY},
    "frame_interpolation": {"videoUri": NOT_HTTPS_OR_RUNWAY},
    "sound_effect": {"videoUri": NOT_HTTPS_OR_RUNWAY},
}
# Wrong JSON types: a value of another type for a field of each type the spec uses.
WRONG_TYPES = {
    "image_to_video": {
        "model": 4,
        "promptImage": ["https://a/b.png"],
        "promptText": 12,
        "duration": "5",
        "ratio": 1280,
    },
    "text_to_video": {"promptText": None, "duration": 5.0, "ratio": ["1280:720"]},
    "video_to_video": {"promptVideo": {"uri": HTTPS_VIDEO}, "promptText": True},
    "character_performance": {"character": HTTPS_IMAGE, "reference": [HTTPS_VIDEO], "character.uri": 1},
    "lip_sync": {"input": 1, "audio": None},
    "video_upscale": {"videoUri": 0},
    "frame_interpolation": {"model": None},
    "sound_effect": {"duration": "4", "promptText": ["rain"]},
}
OTHER_VIOLATIONS = {
    "sound_effect": {"duration": 0},  # must be at least one second
}


def _with(body: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    result = {key: dict(item) if isinstance(item, dict) else item for key, item in body.items()}
    parent, _, name = dotted.rpartition(".")
    target = result[parent] if parent else result
    target[name] = value
    return result


def _without(body: dict[str, Any], dotted: str) -> dict[str, Any]:
    result = {key: dict(item) if isinstance(item, dict) else item for key, item in body.items()}
    parent, _, name = dotted.rpartition(".")
    (result[parent] if parent else result).pop(name)
    return result


def _valid(operation: str) -> dict[str, Any]:
    """The richer body above, else the operation's registry sample."""
    return VALID.get(operation) or dict(REGISTRY[operation].sample_body)


def _required(operation: str) -> list[str]:
    """The fields listed above, else those the request model requires."""
    model = REGISTRY[operation].request_model
    return REQUIRED.get(operation) or [
        info.alias or name for name, info in model.model_fields.items() if info.is_required()
    ]


def _violations() -> Iterator[Any]:
    # An operation without cases above (a new registry entry) still gets the generic ones.
    for operation in OPERATIONS:
        valid = _valid(operation)
        for field in _required(operation):
            yield pytest.param(operation, _without(valid, field), id=f"{operation}-missing-{field}")
        for field, value in ENUM_VIOLATIONS.get(operation, {"model": "not_a_model_v0"}).items():
            yield pytest.param(operation, _with(valid, field, value), id=f"{operation}-enum-{field}")
        for field in TEXT_FIELDS.get(operation, []):
            yield pytest.param(operation, _with(valid, field, TOO_LONG), id=f"{operation}-too-long-{field}")
            if field in REQUIRED[operation]:  # an optional prompt may be empty; a required one not
                yield pytest.param(operation, _with(valid, field, ""), id=f"{operation}-empty-{field}")
        for field, bad_uris in URI_FIELDS.get(operation, {}).items():
            for kind, uri in bad_uris.items():
                yield pytest.param(operation, _with(valid, field, uri), id=f"{operation}-uri-{kind}-{field}")
        for field, value in WRONG_TYPES.get(operation, {"model": 4}).items():
            yield pytest.param(operation, _with(valid, field, value), id=f"{operation}-type-{field}")
        for field, value in OTHER_VIOLATIONS.get(operation, {}).items():
            yield pytest.param(operation, _with(valid, field, value), id=f"{operation}-range-{field}")
        yield pytest.param(operation, {**valid, "notInSpec": 1}, id=f"{operation}-unknown-field")
        yield pytest.param(operation, [valid], id=f"{operation}-body-not-object")


@pytest.fixture(scope="module")
def strict_emulator() -> Iterator[RunwayEmulator]:
    with RunwayEmulator(EmulatorConfig(seed=1)) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def strict_api(strict_emulator: RunwayEmulator) -> Iterator[httpx.Client]:
    with api_client(strict_emulator) as client:
        yield client


@pytest.mark.parametrize(("operation", "body"), list(_violations()))
def test_violation_is_refused_by_models_and_emulator(
    strict_emulator: RunwayEmulator, strict_api: httpx.Client, operation: str, body: Any
) -> None:
    with pytest.raises(ValidationError):
        validate_create_request(operation, body)  # type: ignore[arg-type]
    created_before = strict_emulator.counters()["tasks_created"]
    response = strict_api.post(f"/v1/{operation}", json=body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert isinstance(error["error"], str)
    assert error["error"]
    assert error["code"] == "INVALID_REQUEST"
    assert strict_emulator.counters()["tasks_created"] == created_before


@pytest.mark.parametrize(
    ("operation", "body"),
    [pytest.param(name, _valid(name), id=name) for name in OPERATIONS]
    + [pytest.param(name, dict(REGISTRY[name].sample_body), id=f"{name}-sample") for name in OPERATIONS],
)
def test_valid_body_is_accepted_by_models_and_emulator(
    strict_emulator: RunwayEmulator, strict_api: httpx.Client, operation: str, body: dict[str, Any]
) -> None:
    validate_create_request(operation, body)
    created_before = strict_emulator.counters()["tasks_created"]
    response = strict_api.post(f"/v1/{operation}", json=body)
    assert response.status_code == 200, response.text
    assert strict_api.get(f"/v1/tasks/{response.json()['id']}").status_code == 200
    assert strict_emulator.counters()["tasks_created"] == created_before + 1


def test_every_operation_has_cases_for_each_constraint_kind() -> None:
    ids = [param.id for param in _violations()]
    for operation in OPERATIONS:
        assert any(item.startswith(f"{operation}-missing-") for item in ids)
        assert any(item.startswith(f"{operation}-enum-model") for item in ids)
        assert any(item.startswith(f"{operation}-type-") for item in ids)
    assert len(ids) == len(set(ids))


def test_video_to_video_accepts_the_sdk_field_name_too(strict_api: httpx.Client) -> None:
    body = _without(VALID["video_to_video"], "promptVideo") | {"videoUri": HTTPS_VIDEO}
    assert strict_api.post("/v1/video_to_video", json=body).status_code == 200


def test_passthrough_accepts_models_and_fields_the_spec_lacks() -> None:
    body = {"model": "gen3a_turbo", "promptText": "a fox", "ratio": "1920:1080", "seed": 42}
    with RunwayEmulator(EmulatorConfig(seed=1)) as emulator, api_client(emulator) as api:
        assert api.post("/v1/text_to_video", json=body).status_code == 400
        emulator.update(passthrough=True)
        accepted = api.post("/v1/text_to_video", json=body)
        assert accepted.status_code == 200
        # Passthrough relaxes enums and unknown fields, never URI kinds or types.
        bad_uri = {"model": "upscale_v9", "videoUri": "http://insecure/in.mp4"}
        assert api.post("/v1/video_upscale", json=bad_uri).status_code == 400
        assert emulator.counters()["tasks_created"] == 1
