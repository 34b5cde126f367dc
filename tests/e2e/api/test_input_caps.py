"""Hostile bodies over real HTTP (local API Gateway → API function): a clear 400 `{"error", "code"}`,
never a 500 (which the official SDK retries), and nothing stored or sent to Runway."""

from __future__ import annotations

import json

import httpx
import pytest

from runway_bridge.models.limits import JSON_MAX_DEPTH
from tests.e2e.api.conftest import Stack, Tenant, creates_sent, sample_body, stored_job_items
from tests.e2e.api.test_api_end_to_end import assert_error_shape


def nested_object(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


HOSTILE_BODIES = {
    "100000 opening brackets": "[" * 100_000,
    "an object 100000 deep": nested_object(100_000),
    "an otherwise valid body with a field too deep": json.dumps(
        {**sample_body("text_to_video"), "metadata": {"k": "v"}}
    )[:-1]
    + ', "extra": '
    + nested_object(JSON_MAX_DEPTH)
    + "}",
}


@pytest.mark.parametrize("raw", HOSTILE_BODIES.values(), ids=HOSTILE_BODIES.keys())
def test_a_body_nested_too_deep_is_a_400_not_a_500(
    api: httpx.Client, stack: Stack, tenant: Tenant, raw: str
) -> None:
    before_sent, before_items = creates_sent(stack), len(stored_job_items(stack))

    response = api.post(
        "/v1/text_to_video", content=raw, headers={**tenant.bearer, "Content-Type": "application/json"}
    )

    error = assert_error_shape(response, 400)
    assert error["code"] == "body_too_deep"
    assert f"deeper than {JSON_MAX_DEPTH}" in error["error"]
    assert (creates_sent(stack), len(stored_job_items(stack))) == (before_sent, before_items)


def test_nesting_within_the_cap_is_parsed(api: httpx.Client, tenant: Tenant) -> None:
    # Parsed, then refused for what it is (a field Runway does not know), not for its depth.
    body = {**sample_body("text_to_video"), "extra": json.loads(nested_object(JSON_MAX_DEPTH - 1))}
    error = assert_error_shape(api.post("/v1/text_to_video", json=body, headers=tenant.bearer), 400)
    assert error["code"] != "body_too_deep"


def test_metadata_of_twenty_15_kb_values_is_a_400_before_runway_is_called(
    api: httpx.Client, stack: Stack, tenant: Tenant
) -> None:
    before_sent, before_items = creates_sent(stack), len(stored_job_items(stack))
    body = {**sample_body("text_to_video"), "metadata": {f"k{i}": "v" * 15_000 for i in range(20)}}

    error = assert_error_shape(api.post("/v1/text_to_video", json=body, headers=tenant.bearer), 400)

    assert "metadata" in error["error"]
    assert (creates_sent(stack), len(stored_job_items(stack))) == (before_sent, before_items)


def test_the_webhook_test_endpoint_refuses_a_deep_body_too(api: httpx.Client, tenant: Tenant) -> None:
    response = api.post(
        "/v1/webhooks/test",
        content="[" * 100_000,
        headers={**tenant.bearer, "Content-Type": "application/json"},
    )
    assert assert_error_shape(response, 400)["code"] == "body_too_deep"
