"""The bridge API's OpenAPI document, assembled from the declarations (no I/O).

The API function's router (Powertools) knows its routes, parameters and their constraints; it does
not know the create bodies (the routes read raw JSON so passthrough can forward fields no schema
knows), the answers' models, that errors are 400 `{"error", "code"}` rather than its 422, or the
auth. `build_openapi_document` takes the router's document and adds those, from the operation
registry (models/operations.py) and the models that validate each body, so the document is as
strict as the API: a body it allows is one the API takes (except what no schema can say: the
SSRF guard's view of a callback URL, metadata's total size in bytes).

Each create's 200 answer links to `GET /v1/tasks/{task_id}` and `DELETE /v1/tasks/{task_id}`
with the job id it returns; the task view links on to its cancel and webhook redelivery.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any, Final

from pydantic import BaseModel

from runway_bridge.models.api import (
    BRIDGE_REFERENCE_FIELD,
    CreateTaskResponse,
    DeadLetterList,
    ErrorBody,
    TaskListPage,
    TaskView,
    create_body_model,
)
from runway_bridge.models.events import CALLBACK_EVENT_TYPES
from runway_bridge.models.limits import METADATA_KEY_MAX_CHARS, METADATA_VALUE_MAX_CHARS
from runway_bridge.models.operations import REGISTRY, OperationRegistry, OperationSpec
from runway_bridge.models.runway import URI_PATTERNS_WITH_S3, UploadRequest

JSON: Final = "application/json"
TITLE: Final = "runway-bridge API"
VERSION: Final = "1.0.0"
DESCRIPTION: Final = "Runway-compatible task API with webhooks, durable outputs and idempotency."
TASK_PATH: Final = "/v1/tasks/{task_id}"
IDEMPOTENCY_HEADER: Final = "Idempotency-Key"
# What `UploadRequest._filename` accepts: a plain name (no path) with a dot inside it.
FILENAME_PATTERN: Final = r"^[^./\\][^/\\]*\.[^/\\]*[^./\\][^/\\]*$"
# What the SSRF guard takes before it resolves the host: https, a host, no whitespace or control
# characters (a deployment may also allow http, for local development; the document does not).
CALLBACK_URL_PATTERN: Final = r"^https://[^\s\x00-\x1f/?#]+[^\s\x00-\x1f]*$"

# Statuses each kind of route answers besides 200 (the body is always `{"error", "code"}`).
_ERRORS_BY_KIND: Final[dict[str, dict[str, str]]] = {
    "create": {
        "400": (
            "The body breaks a spec constraint or a bridge limit (metadata size, nesting depth), the "
            "callback URL is refused, or an `s3://` input is (its bucket is not allowed, or the object "
            "is missing, unreadable, too large or not of the field's media type). Nothing was stored."
        ),
        "401": "No bridge key, or an unknown or revoked one.",
        "409": "The first request with this Idempotency-Key is still being submitted; retry shortly.",
        "422": "This Idempotency-Key was used with another body.",
        "429": "A daily limit of your key is reached (`Retry-After` says until when). Nothing was stored.",
    },
    "task": {"400": "Invalid id.", "401": "No valid bridge key.", "404": "No such task for this key."},
    "list": {"400": "Invalid status, reference, cursor or limit.", "401": "No valid bridge key."},
    "upload": {"400": "Invalid filename.", "401": "No valid bridge key.", "502": "Runway unreachable."},
}
_WEBHOOK_ERRORS: Final = {
    "400": "Invalid request (or the URL refused by the SSRF guard).",
    "401": "No valid bridge key.",
    "404": "No such task for this key.",
    "409": "Nothing to redeliver: no callbackUrl, or the task has no event yet.",
}
# Powertools' 422 shapes: this API answers 400 {"error", "code"}.
_POWERTOOLS_SCHEMAS: Final = ("HTTPValidationError", "ValidationError", "ResponseValidationError")


def _json_content(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _schema_of(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(by_alias=True, ref_template="#/$defs/{model}")
    components.update(schema.pop("$defs", {}))
    return schema


def _tighten_bridge_fields(schema: dict[str, Any], spec: OperationSpec) -> None:
    """What `BridgeFields` and the service check beyond the field types (metadata keys and values,
    event names, the callback URL's form, `reference` or `bridgeReference` but not both), and no
    fields beyond the declared ones."""
    schema["additionalProperties"] = False
    properties = schema["properties"]
    runway_names = {info.alias or name for name, info in spec.request_model.model_fields.items()}
    if "reference" not in runway_names:  # `reference` is the bridge's here, as `bridgeReference` is
        schema["not"] = {"required": ["reference", BRIDGE_REFERENCE_FIELD]}
    for variant in properties.get("metadata", {}).get("anyOf", []):
        if variant.get("type") == "object":
            variant["propertyNames"] = {"minLength": 1, "maxLength": METADATA_KEY_MAX_CHARS}
            variant["additionalProperties"] = {"type": "string", "maxLength": METADATA_VALUE_MAX_CHARS}
    for variant in properties.get("events", {}).get("anyOf", []):
        if variant.get("type") == "array":
            variant["items"] = {"type": "string", "enum": sorted(CALLBACK_EVENT_TYPES)}
    for variant in properties.get("callbackUrl", {}).get("anyOf", []):
        if variant.get("type") == "string":
            variant["pattern"] = CALLBACK_URL_PATTERN


def _with_s3_inputs(node: Any) -> None:
    """Input URI fields take `s3://bucket/key` too (the bridge resolves it before sending)."""
    if isinstance(node, dict):
        pattern = node.get("pattern")
        if isinstance(pattern, str) and pattern in URI_PATTERNS_WITH_S3:
            node["pattern"] = URI_PATTERNS_WITH_S3[pattern]
        for value in node.values():
            _with_s3_inputs(value)
    elif isinstance(node, list):
        for value in node:
            _with_s3_inputs(value)


def create_body_schema(spec: OperationSpec, components: dict[str, Any]) -> dict[str, Any]:
    """The create body of `spec`: Runway's body with the bridge fields beside it."""
    schema = _schema_of(create_body_model(spec), components)
    _tighten_bridge_fields(schema, spec)
    _with_s3_inputs(schema)
    _with_s3_inputs(components)  # nested input models (character/reference) live there
    return schema


def _create_operation(
    spec: OperationSpec, components: dict[str, Any], error: dict[str, Any], router_entry: Mapping[str, Any]
) -> dict[str, Any]:
    created = _json_content(_schema_of(CreateTaskResponse, components), "The bridge job id.")
    created["links"] = {
        "GetTask": {
            "operationId": "get_task",
            "parameters": {"task_id": "$response.body#/id"},
            "description": "The job this create answered.",
        },
        "CancelTask": {
            "operationId": "delete_task",
            "parameters": {"task_id": "$response.body#/id"},
            "description": "Cancel (or delete, once finished) the job this create answered.",
        },
    }
    responses = {code: _json_content(error, text) for code, text in _ERRORS_BY_KIND["create"].items()}
    return {
        "tags": ["tasks"],
        "summary": f"Create a {spec.name} task",
        "description": (
            f"{spec.summary} Runway's `POST {spec.path}` body, plus optional bridge fields "
            "(callbackUrl, events, metadata, reference). Answers the bridge job id."
        ).strip(),
        "operationId": f"create_{spec.name}",
        # The router's parameters (the Idempotency-Key header as the route declares it) where it
        # has the route; the same header otherwise (a registry entry not routed yet).
        "parameters": router_entry.get("parameters")
        or [
            {
                "name": IDEMPOTENCY_HEADER.lower(),
                "in": "header",
                "required": False,
                "description": "Scoped to your key: a retry with the same key and body returns the same job.",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
            }
        ],
        "requestBody": {
            "required": True,
            "content": {JSON: {"schema": create_body_schema(spec, components)}},
        },
        "responses": {"200": created, **responses},
    }


def build_openapi_document(
    router_document: Mapping[str, Any],
    *,
    registry: OperationRegistry = REGISTRY,
    request_bodies: Mapping[tuple[str, str], type[BaseModel]] | None = None,
) -> dict[str, Any]:
    """The served document: `router_document` (the router's own, as JSON) completed with the create
    routes of `registry`, the answers, 400 errors, auth and links. `request_bodies` names the models
    of other routes that read raw JSON: {(path, method): model}."""
    document = copy.deepcopy(dict(router_document))
    paths: dict[str, Any] = document.setdefault("paths", {})
    components: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    for unused in _POWERTOOLS_SCHEMAS:
        components.pop(unused, None)
    error = _schema_of(ErrorBody, components)

    stale = [
        path
        for path, methods in paths.items()
        if methods.get("post", {}).get("operationId", "").startswith("create_")
        and path != "/v1/uploads"
        and path.removeprefix("/v1/") not in registry
    ]
    for path in stale:
        del paths[path]  # a create route the registry does not declare
    for spec in registry:
        router_entry = paths.get(spec.path, {}).get("post", {})
        paths[spec.path] = {"post": _create_operation(spec, components, error, router_entry)}

    task_view = _json_content(_schema_of(TaskView, components), "The task in Runway's shape.")
    task_view["links"] = {
        "CancelTask": {"operationId": "delete_task", "parameters": {"task_id": "$response.body#/id"}},
        "RedeliverWebhook": {
            "operationId": "redeliver_webhook",
            "parameters": {"task_id": "$response.body#/id"},
        },
    }
    answers = {
        "task": task_view,
        "list": _json_content(_schema_of(TaskListPage, components), "One page, newest first."),
        "upload": _json_content({"type": "object"}, "Runway's upload answer (uploadUrl, fields, runwayUri)."),
    }
    routes = {
        TASK_PATH: {"get": "task", "delete": "task"},
        "/v1/tasks": {"get": "list"},
        "/v1/uploads": {"post": "upload"},
    }
    for path, methods in routes.items():
        for method, kind in methods.items():
            spec = paths[path][method]
            responses = {code: _json_content(error, text) for code, text in _ERRORS_BY_KIND[kind].items()}
            if method == "delete":
                responses["204"] = {
                    "description": "Cancel recorded (unfinished; the bridge cancels it at Runway until "
                    "Runway confirms) or deleted (finished)."
                }
                responses["409"] = _json_content(
                    error, "Its outputs are being copied (Runway already finished it); retry shortly."
                )
            else:
                responses["200"] = answers[kind]
            spec["responses"] = responses
    upload_schema = _schema_of(UploadRequest, components)
    upload_schema["properties"]["filename"]["pattern"] = FILENAME_PATTERN
    paths["/v1/uploads"]["post"]["requestBody"] = {
        "required": True,
        "content": {JSON: {"schema": upload_schema}},
    }

    for path, methods in paths.items():
        if not (path.startswith("/v1/webhooks") or path.endswith("/webhook/redeliver")):
            continue
        for spec in methods.values():
            spec["responses"].pop("422", None)
            spec["responses"].update(
                {code: _json_content(error, text) for code, text in _WEBHOOK_ERRORS.items()}
            )
    dead_letters = paths.get("/v1/webhooks/dead-letters", {}).get("get")
    if dead_letters is not None:
        dead_letters["responses"]["200"] = _json_content(
            _schema_of(DeadLetterList, components), "Your dead-lettered deliveries, oldest first."
        )
    for (path, method), model in (request_bodies or {}).items():
        body = _schema_of(model, components)
        if path == "/v1/webhooks/test":  # its url goes through the same guard as a callbackUrl
            body["properties"]["url"]["pattern"] = CALLBACK_URL_PATTERN
        paths[path][method]["requestBody"] = {"required": True, "content": {JSON: {"schema": body}}}

    outputs = paths.get("/v1/outputs/{job_id}/{index}", {}).get("get")
    if outputs is not None:
        outputs["security"] = []
        outputs["responses"] = {
            "302": {"description": "Redirect to a freshly presigned URL of the output."},
            "400": _json_content(error, "Invalid parameters."),
            "403": _json_content(error, "Wrong signature, or the link expired."),
            "404": _json_content(error, "No such output."),
        }
    health = paths.get("/v1/health", {}).get("get")
    if health is not None:
        health["security"] = []
    for methods in paths.values():
        for spec in methods.values():
            # Powertools' 422 (its validation shape) where this module did not say otherwise.
            answer = spec.get("responses", {}).get("422")
            if answer is not None and "HTTPValidationError" in json.dumps(answer):
                spec["responses"].pop("422")
                spec["responses"].setdefault("400", _json_content(error, "Invalid parameters."))

    document["components"]["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer"},
        "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
    }
    document["security"] = [{"bearer": []}, {"apiKey": []}]
    rendered: dict[str, Any] = json.loads(json.dumps(document).replace("#/$defs/", "#/components/schemas/"))
    return rendered
