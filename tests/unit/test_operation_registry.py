"""The operation registry (models/operations.py) is the one declaration of each Runway operation:
template.yaml's API routes, the sample events, the served OpenAPI document, the polling prior, the
tenant charge and the CLI all agree with it, and a new operation needs only its entry, its route
and its sample event (`test_a_new_operation_needs_its_entry_a_route_and_a_sample_event`)."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError
from samtranslator.yaml_helper import yaml_parse

from runway_bridge.logic.poller.policy import PollingPolicy
from runway_bridge.models.api import BRIDGE_REFERENCE_FIELD, bridge_field_names
from runway_bridge.models.job import BRIDGE_FIELD_NAMES, BridgeFields
from runway_bridge.models.openapi import build_openapi_document
from runway_bridge.models.operations import (
    OPERATIONS,
    REGISTRY,
    CliDefaults,
    InputField,
    OperationRegistry,
    OperationSpec,
)
from runway_bridge.models.runway import SoundEffectRequest
from runway_bridge.models.tenant import output_seconds
from runway_bridge_dev.client_cli import body_from_arguments

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = (ROOT / "template.yaml").read_text()
EVENTS = ROOT / "events" / "api"
# POST routes of the API function that are not Runway operations.
NOT_OPERATIONS = frozenset({"/v1/uploads"})


# --- what the checks read, as functions of a registry (the demonstration reuses them) ---------------


def template_create_routes(template: str) -> set[str]:
    """The API function's `POST /v1/<name>` routes in `template` (its Events of type Api)."""
    resources = yaml_parse(template)["Resources"]
    events = resources["ApiFunction"]["Properties"]["Events"]
    return {
        event["Properties"]["Path"]
        for event in events.values()
        if event["Type"] == "Api"
        and event["Properties"]["Method"].upper() == "POST"
        and event["Properties"]["Path"].count("/") == 2
        and event["Properties"]["Path"] not in NOT_OPERATIONS
    }


def route_differences(registry: OperationRegistry, template: str) -> dict[str, set[str]]:
    routes = template_create_routes(template)
    return {
        "in the registry, not routed": set(registry.paths) - routes,
        "routed, not in the registry": routes - set(registry.paths),
    }


def sample_event_problems(registry: OperationRegistry, events: dict[str, dict[str, Any]]) -> list[str]:
    """What is wrong with `events` (file name -> API Gateway event) as the registry's samples: one
    `create_<name>.json` per entry, on its path, whose Runway part is the entry's sample body and
    whose bridge fields are valid."""
    problems = []
    for spec in registry:
        event = events.get(f"create_{spec.name}.json")
        if event is None:
            problems.append(f"{spec.name}: no sample event create_{spec.name}.json")
            continue
        if (event["httpMethod"], event["path"], event["resource"]) != ("POST", spec.path, spec.path):
            problems.append(f"{spec.name}: the sample event is not a POST to {spec.path}")
        body = json.loads(event["body"])
        bridge_names = bridge_fields_of(spec)
        runway_part = {key: value for key, value in body.items() if key not in bridge_names}
        if runway_part != dict(spec.sample_body):
            problems.append(f"{spec.name}: the sample event's body is not the registry's sample body")
        try:
            BridgeFields.model_validate(
                {k: v for k, v in body.items() if k in bridge_names - {"bridgeReference"}}
            )
        except ValidationError as exc:
            problems.append(f"{spec.name}: invalid bridge fields: {exc}")
    creates = {name for name in events if name.startswith("create_") and name != "create_upload.json"}
    problems += [
        f"{name}: a sample for no registry entry"
        for name in sorted(creates)
        if name.removeprefix("create_").removesuffix(".json") not in registry
    ]
    return problems


def bridge_fields_of(spec: OperationSpec) -> set[str]:
    runway_names = {info.alias or name for name, info in spec.request_model.model_fields.items()}
    return (set(BRIDGE_FIELD_NAMES) - runway_names) | {BRIDGE_REFERENCE_FIELD}


def event_files() -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text()) for path in EVENTS.glob("*.json")}


def document_for(registry: OperationRegistry) -> dict[str, Any]:
    """The served document's assembly, over a router document without create routes."""
    router = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": _ROUTER_PATHS}
    return build_openapi_document(router, registry=registry)


_ROUTER_PATHS: dict[str, Any] = {
    "/v1/tasks/{task_id}": {
        "get": {"operationId": "get_task", "responses": {}},
        "delete": {"operationId": "delete_task", "responses": {}},
    },
    "/v1/tasks": {"get": {"operationId": "list_tasks", "responses": {}}},
    "/v1/uploads": {"post": {"operationId": "create_upload", "responses": {}}},
}


def body_schema(document: dict[str, Any], path: str) -> dict[str, Any]:
    schema = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return {**schema, "components": document["components"]}


def schema_allows(document: dict[str, Any], path: str, body: dict[str, Any]) -> bool:
    validator = jsonschema.Draft202012Validator(body_schema(document, path))
    return bool(validator.is_valid(body))


# --- the registry and the repository agree -----------------------------------------------------------


def test_template_routes_are_the_registry() -> None:
    assert route_differences(REGISTRY, TEMPLATE) == {
        "in the registry, not routed": set(),
        "routed, not in the registry": set(),
    }


def test_a_route_missing_or_extra_in_the_template_is_found() -> None:
    without = TEMPLATE.replace("Path: /v1/lip_sync, Method: POST", "Path: /v1/lip_sinc, Method: POST")
    assert route_differences(REGISTRY, without) == {
        "in the registry, not routed": {"/v1/lip_sync"},
        "routed, not in the registry": {"/v1/lip_sinc"},
    }


def test_every_registry_entry_has_its_sample_event() -> None:
    assert sample_event_problems(REGISTRY, event_files()) == []


def test_a_sample_event_that_drifts_from_the_registry_is_found() -> None:
    events = event_files()
    drifted = json.loads(json.dumps(events["create_lip_sync.json"]))
    drifted["body"] = json.dumps({**json.loads(drifted["body"]), "audio": "https://example.com/other.mp3"})
    events["create_lip_sync.json"] = drifted
    del events["create_sound_effect.json"]
    assert sample_event_problems(REGISTRY, events) == [
        "lip_sync: the sample event's body is not the registry's sample body",
        "sound_effect: no sample event create_sound_effect.json",
    ]


def test_a_registry_refuses_an_entry_whose_sample_body_or_cli_model_is_invalid() -> None:
    spec = REGISTRY["sound_effect"]
    with pytest.raises(ValueError, match="sample body is not valid"):
        REGISTRY.with_operation(replace(spec, sample_body={"model": "sound_effect_v1"}))
    with pytest.raises(ValueError, match="default model"):
        REGISTRY.with_operation(replace(spec, cli=CliDefaults(model="gen4")))
    with pytest.raises(ValueError, match="declared twice"):
        OperationRegistry((spec, spec))


# --- the served document says what the API enforces ------------------------------------------------


@pytest.mark.parametrize("operation", OPERATIONS)
def test_the_document_allows_the_sample_and_links_the_answer_to_the_task(operation: str) -> None:
    document = document_for(REGISTRY)
    spec = REGISTRY[operation]
    assert schema_allows(document, spec.path, dict(spec.sample_body))
    sample = json.loads(event_files()[f"create_{operation}.json"]["body"])
    assert schema_allows(document, spec.path, sample)
    links = document["paths"][spec.path]["post"]["responses"]["200"]["links"]
    assert links["GetTask"] == {
        "operationId": "get_task",
        "parameters": {"task_id": "$response.body#/id"},
        "description": "The job this create answered.",
    }
    assert links["CancelTask"]["operationId"] == "delete_task"


@pytest.mark.parametrize(
    ("operation", "change"),
    [
        ("image_to_video", {"model": "sound_effect_v1"}),  # a model of another operation
        ("image_to_video", {"ratio": "1:1"}),
        ("image_to_video", {"duration": 7}),
        ("image_to_video", {"promptImage": "ftp://example.com/a.png"}),
        ("image_to_video", {"promptText": "x" * 1001}),
        ("text_to_video", {"promptText": ""}),
        ("text_to_video", {"colour": "blue"}),  # a field the spec lacks
        ("video_upscale", {"videoUri": "data:video/mp4;base64,AAAA"}),  # data: only for images
        ("lip_sync", {"audio": "https://example.com/a b.mp3"}),
        ("character_performance", {"character": {"type": "image", "uri": "https://e.com/c.png", "x": 1}}),
        ("sound_effect", {"duration": 0}),
        ("sound_effect", {"metadata": {"": "empty key"}}),
        ("sound_effect", {"metadata": {"k": "v" * 513}}),
        ("sound_effect", {"events": ["task.nope"]}),
        ("sound_effect", {"callbackUrl": "ftp://example.com/hook"}),
        ("sound_effect", {"bridgeReference": ""}),
        ("sound_effect", {"reference": "a", "bridgeReference": "b"}),  # one or the other
        ("sound_effect", {"callbackUrl": "https://hooks.example.com/a b"}),
        ("video_to_video", {"videoUri": None}),  # null is not a video
    ],
)
def test_the_document_refuses_what_the_api_refuses(operation: str, change: dict[str, Any]) -> None:
    body = {**REGISTRY[operation].sample_body, **change}
    assert not schema_allows(document_for(REGISTRY), REGISTRY[operation].path, body)


def test_video_to_video_needs_one_of_its_two_video_names_in_the_document() -> None:
    document = document_for(REGISTRY)
    body = dict(REGISTRY["video_to_video"].sample_body)
    assert schema_allows(document, "/v1/video_to_video", body)
    assert schema_allows(document, "/v1/video_to_video", {**body, "promptVideo": body.pop("videoUri")})
    assert not schema_allows(document, "/v1/video_to_video", body)
    # character_performance's `reference` is Runway's, so bridgeReference goes beside it.
    performance = {**REGISTRY["character_performance"].sample_body, "bridgeReference": "order-1"}
    assert schema_allows(document, "/v1/character_performance", performance)


def test_the_upload_filename_pattern_is_the_validators() -> None:
    from runway_bridge.models.runway import UploadRequest  # noqa: PLC0415

    schema = body_schema(document_for(REGISTRY), "/v1/uploads")
    for name in ("clip.mp4", "a.b.", "x.tar.gz", "a..", ".hidden.png", "dir/a.png", "noext", "a\\b.png"):
        try:
            UploadRequest.model_validate({"filename": name})
            accepted = True
        except ValidationError:
            accepted = False
        assert jsonschema.Draft202012Validator(schema).is_valid({"filename": name}) == accepted, name


# --- readers of the registry ---------------------------------------------------------------------


def test_the_poller_prior_of_an_unknown_model_is_its_operations() -> None:
    policy = PollingPolicy()
    assert policy.typical_duration_s("sound_effect_v9", operation="sound_effect") == 32.0
    assert policy.typical_duration_s("gen4_turbo", operation="sound_effect") == 38.0  # the model's
    assert policy.typical_duration_s("mystery") == policy.default_typical_duration_s


def test_the_tenant_charge_default_is_the_registrys() -> None:
    for spec in REGISTRY:
        assert output_seconds(spec.name, {}) == spec.default_output_seconds


def test_the_cli_builds_each_operations_sample_shape() -> None:
    media: dict[str, str | None] = {
        "image": "https://e.com/i.png",
        "video": "https://e.com/v.mp4",
        "audio": "https://e.com/a.mp3",
    }
    for spec in REGISTRY:
        body = body_from_arguments(spec, media, model=None, prompt="a prompt", ratio=None, duration=None)
        if "promptText" not in spec.sample_body:
            body.pop("promptText")
        # The fields of the registry's valid sample, and valid for the operation itself.
        assert set(body) == set(spec.sample_body), spec.name
        spec.request_model.model_validate(body)
        assert bridge_fields_of(spec) == bridge_field_names(spec.name)
    lip = body_from_arguments(
        REGISTRY["lip_sync"], {"image": "https://e.com/i.png", "audio": "https://e.com/a.mp3"},
        model=None, prompt=None, ratio=None, duration=None,
    )  # fmt: skip
    assert lip == {"model": "gen4_turbo", "input": "https://e.com/i.png", "audio": "https://e.com/a.mp3"}


# --- a new operation: only its entry, its route and its sample event ---------------------------------

DEMO = OperationSpec(
    name="text_to_sound_demo",
    request_model=SoundEffectRequest,
    output_kind="audio",
    typical_duration_s=21.0,
    default_output_seconds=4,
    cli=CliDefaults(model="sound_effect_v1"),
    inputs=(InputField("videoUri", ("video",)),),
    sample_body={"model": "sound_effect_v1", "promptText": "a kettle whistles"},
    summary="A demonstration operation.",
)
DEMO_ROUTE = """        TextToSoundDemo:
          Type: Api
          Properties: {RestApiId: !Ref BridgeApi, Path: /v1/text_to_sound_demo, Method: POST}
"""


def test_a_new_operation_needs_its_entry_a_route_and_a_sample_event() -> None:
    registry = REGISTRY.with_operation(DEMO)  # edit 1: the registry entry

    # Without its route and its sample event, the checks name exactly what is missing.
    assert route_differences(registry, TEMPLATE)["in the registry, not routed"] == {"/v1/text_to_sound_demo"}
    assert sample_event_problems(registry, event_files()) == [
        "text_to_sound_demo: no sample event create_text_to_sound_demo.json"
    ]

    # edit 2: the route in template.yaml (beside the other create routes)
    anchor = "        TextToVideo:\n"
    template = TEMPLATE.replace(anchor, DEMO_ROUTE + anchor, 1)
    assert route_differences(registry, template) == {
        "in the registry, not routed": set(),
        "routed, not in the registry": set(),
    }
    # edit 3: the sample event (another create's, retargeted, with the entry's sample body)
    events = event_files()
    event = json.loads(json.dumps(events["create_sound_effect.json"]))
    for key in ("path", "resource"):
        event[key] = DEMO.path
    event["body"] = json.dumps({**DEMO.sample_body, "metadata": {"customer": "acme"}})
    events["create_text_to_sound_demo.json"] = event
    assert sample_event_problems(registry, events) == []

    # Everything else follows from the entry: the document (body, links), the poller's prior, the CLI.
    document = document_for(registry)
    create = document["paths"]["/v1/text_to_sound_demo"]["post"]
    assert create["operationId"] == "create_text_to_sound_demo"
    assert create["responses"]["200"]["links"]["GetTask"]["operationId"] == "get_task"
    assert schema_allows(document, DEMO.path, json.loads(event["body"]))
    assert not schema_allows(document, DEMO.path, {**DEMO.sample_body, "model": "gen4"})
    policy = PollingPolicy(
        operation_typical_durations_s={spec.name: spec.typical_duration_s for spec in registry}
    )
    assert policy.typical_duration_s("new_model_v1", operation="text_to_sound_demo") == 21.0
    args = argparse.Namespace(model=None, prompt="a kettle", ratio=None, duration=None)
    body = body_from_arguments(
        registry[DEMO.name], {"video": "https://e.com/v.mp4"},
        model=args.model, prompt=args.prompt, ratio=args.ratio, duration=args.duration,
    )  # fmt: skip
    assert body == {"model": "sound_effect_v1", "promptText": "a kettle", "videoUri": "https://e.com/v.mp4"}
