"""`s3://bucket/key` inputs: the bridge's validation takes them in every input URI field the
registry declares, Runway's (the emulator's, the default) never does, and the served document
says so."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from runway_bridge.models.openapi import build_openapi_document
from runway_bridge.models.operations import REGISTRY, validate_create_request
from runway_bridge.models.runway import URI_PATTERNS_WITH_S3, split_s3_uri

ROUTER = {
    "openapi": "3.1.0",
    "info": {"title": "t", "version": "1"},
    "paths": {
        "/v1/tasks/{task_id}": {"get": {"responses": {}}, "delete": {"responses": {}}},
        "/v1/tasks": {"get": {"responses": {}}},
        "/v1/uploads": {"post": {"responses": {}}},
    },
}


def _body_with(operation: str, uri: str) -> dict[str, Any]:
    """The registry's sample body of `operation` with every declared input set to `uri`."""
    spec = REGISTRY[operation]
    body = dict(spec.sample_body)
    for entry in spec.inputs:
        if entry.field == "promptVideo":  # video_to_video takes one of its two names
            continue
        body[entry.field] = {"type": entry.kinds[0], "uri": uri} if entry.reference else uri
    return body


def _patterns(node: Any, components: dict[str, Any]) -> set[str]:
    """Every `pattern` under `node`, following `$ref`s into `components`."""
    if isinstance(node, list):
        return set().union(*(_patterns(item, components) for item in node))
    if not isinstance(node, dict):
        return set()
    found = {node["pattern"]} if isinstance(node.get("pattern"), str) else set()
    if isinstance(node.get("$ref"), str):
        found |= _patterns(components[node["$ref"].rsplit("/", 1)[-1]], components)
    return found.union(*(_patterns(value, components) for key, value in node.items() if key != "$ref"))


def _uri_fields(schema: dict[str, Any], components: dict[str, Any]) -> set[str]:
    """Top-level fields of a body schema whose value (or whose `uri`) carries a URI pattern."""
    with_s3 = set(URI_PATTERNS_WITH_S3.values())
    return {name for name, prop in schema["properties"].items() if _patterns(prop, components) & with_s3}


@pytest.mark.parametrize("operation", [spec.name for spec in REGISTRY if spec.inputs])
def test_every_input_field_takes_s3_only_when_the_bridge_validates(operation: str) -> None:
    body = _body_with(operation, "s3://in-bucket/dir/clip one.mp4")
    validated = validate_create_request(operation, body, s3_inputs=True).to_runway_json()
    assert [found.uri for found in REGISTRY[operation].input_uris(validated)] == [
        "s3://in-bucket/dir/clip one.mp4"
    ] * len([e for e in REGISTRY[operation].inputs if e.field in body])
    # Runway's own rules (the emulator validates with them) know no s3://.
    with pytest.raises(ValidationError, match="must be"):
        validate_create_request(operation, body)


@pytest.mark.parametrize("uri", ["s3://", "s3://bucket", "s3://bucket/", "s3://Bad_Bucket/k", "s3://ab/k"])
def test_a_malformed_s3_uri_is_refused(uri: str) -> None:
    assert split_s3_uri(uri) is None
    with pytest.raises(ValidationError, match="s3://<bucket>/<key>"):
        validate_create_request("video_upscale", {"model": "upscale_v1", "videoUri": uri}, s3_inputs=True)


def test_the_registry_declares_every_uri_field_and_the_document_shows_s3() -> None:
    document = build_openapi_document(ROUTER)
    components = document["components"]["schemas"]
    for spec in REGISTRY:
        schema = document["paths"][spec.path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert _uri_fields(schema, components) == {entry.field for entry in spec.inputs}, spec.name
        if spec.inputs:
            validator = jsonschema.Draft202012Validator({**schema, "components": document["components"]})
            assert validator.is_valid(_body_with(spec.name, "s3://in-bucket/a.bin")), spec.name
            assert not validator.is_valid(_body_with(spec.name, "s3://NO/a.bin")), spec.name


def test_reference_inputs_take_their_kind_from_their_type() -> None:
    spec = REGISTRY["character_performance"]
    body: dict[str, Any] = {
        "model": "act_two",
        "character": {"type": "video", "uri": "s3://b-in/c.mp4"},
        "reference": {"type": "video", "uri": "https://e.com/r.mp4"},
    }
    assert [(u.field, u.uri, u.kinds) for u in spec.input_uris(body)] == [
        ("character", "s3://b-in/c.mp4", ("video",)),
        ("reference", "https://e.com/r.mp4", ("video",)),
    ]
    changed = spec.map_input_uris(body, lambda uri: uri.replace("s3://", "https://s3.example/"))
    assert changed["character"] == {"type": "video", "uri": "https://s3.example/b-in/c.mp4"}
    assert body["character"]["uri"] == "s3://b-in/c.mp4"  # the original is untouched
