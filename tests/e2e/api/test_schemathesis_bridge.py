"""Schemathesis (its CLI, v4) fuzzes the bridge from the OpenAPI document the bridge itself serves,
authenticated with a bridge key: whatever that document lets a client send, valid or not, the
bridge never answers with a server error.

Only `not_a_server_error` is required. The document carries the API's constraints (models/openapi.py),
so most generated bodies are accepted; what no schema can say (callback hosts the SSRF guard
resolves, an Idempotency-Key reused with another body) may still get 400/422.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from runway_bridge.models.operations import OPERATIONS
from tests.e2e.api.conftest import SLOW_CLOCK, Stack, creates_sent, emulator_of, new_tenant, start_stack
from tests.schemathesis_cli import assert_no_server_error

MAX_EXAMPLES = 15
SEED = 20241106


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    running = start_stack(clock_speed=SLOW_CLOCK)
    try:
        yield running
    finally:
        running.stop()


# The document is as strict as the API, so most generated creates are valid and run through the
# whole stack (jobs, polls, copies, events): about 130 s on a quiet machine, more under load.
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_served_document_never_gets_a_server_error(stack: Stack, tmp_path: Path) -> None:
    tenant = new_tenant("fuzz")
    document_url = f"{stack.api_url}/v1/openapi.json"
    assert httpx.get(document_url, timeout=10).status_code == 200  # served without a key
    assert_no_server_error(
        document_url,
        base_url=stack.api_url,
        api_key=tenant.key,
        max_examples=MAX_EXAMPLES,
        seed=SEED,
        request_timeout_s=35,
        cwd=tmp_path,
        timeout_s=540,
    )
    # Really exercised: every route reached the API function, and generated bodies valid enough
    # reached Runway (URI fields need https/runway URIs a schema cannot describe, so not every
    # operation gets there; the end-to-end tests cover each with valid bodies).
    api_function = str(stack.aws.resolve({"Ref": "ApiFunction"}))
    reached = {
        (invocation.event["httpMethod"], invocation.event["resource"])
        for invocation in list(stack.aws.runner.invocations)
        if invocation.function_name == api_function
    }
    expected = {("POST", f"/v1/{operation}") for operation in OPERATIONS} | {
        ("GET", "/v1/tasks"),
        ("GET", "/v1/tasks/{id}"),
        ("DELETE", "/v1/tasks/{id}"),
        ("POST", "/v1/uploads"),
    }
    assert expected <= reached, expected - reached
    counters = emulator_of(stack).counters()
    assert creates_sent(stack) > 0
    assert counters.get("POST /v1/uploads", 0) > 0
