"""The real template.yaml comes up with the Runway emulator, and its API answers through the local
API Gateway exactly where a deployed stage would (`.../Prod/v1/health`)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest

from runway_bridge_dev.local.stack import DEFAULT_TEMPLATE, LocalStack


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(DEFAULT_TEMPLATE, run_schedules=False) as running:
        yield running


def test_real_template_health_answers_200_through_the_local_api_gateway(stack: LocalStack) -> None:
    response = httpx.get(f"{stack.api_url}/v1/health", timeout=10)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["content-type"].startswith("application/json")


def test_real_template_unknown_route_is_api_gateway_403_in_the_bridges_error_shape(stack: LocalStack) -> None:
    # API Gateway's own answer, through the template's gateway responses (not `{"message": ...}`).
    response = httpx.get(f"{stack.api_url}/v1/nope", timeout=10)
    assert response.status_code == 403
    assert response.json() == {"error": "no such route", "code": "not_found"}


def test_runway_settings_point_at_the_emulator(stack: LocalStack) -> None:
    assert stack.emulator is not None
    assert os.environ["BRIDGE_RUNWAY_BASE_URL"] == stack.emulator.base_url
    secret_name = os.environ["BRIDGE_RUNWAY_SECRET_NAME"]
    secret = stack.aws.boto3_client("secretsmanager").get_secret_value(SecretId=secret_name)
    assert secret["SecretString"] == stack.emulator.api_key


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer not-a-bridge-key"}, {"x-api-key": "rb_unknown"}]
)
def test_real_authorizer_refuses_a_missing_or_bad_key_with_401(
    stack: LocalStack, headers: dict[str, str]
) -> None:
    response = httpx.get(f"{stack.api_url}/v1/tasks", headers=headers, timeout=10)
    assert response.status_code == 401
    assert response.json() == {"error": "Unauthorized", "code": "unauthorized"}
