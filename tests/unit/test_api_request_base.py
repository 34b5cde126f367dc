"""The API handler's own address for links in its answers (`outputs[].link` of the task view): the
domain and stage of the request, as API Gateway reports them."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def api_app() -> ModuleType:
    spec = importlib.util.spec_from_file_location("api_app_under_test", ROOT / "functions" / "api" / "app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _event(domain: str | None, stage: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    context: dict[str, Any] = {"stage": stage, "requestId": "r"}
    if domain is not None:
        context["domainName"] = domain
    return {"httpMethod": "GET", "path": "/v1/tasks/x", "headers": headers or {}, "requestContext": context}


@pytest.mark.parametrize(
    ("event", "base"),
    [
        (
            _event("abc.execute-api.eu-west-1.amazonaws.com", "prod"),
            "https://abc.execute-api.eu-west-1.amazonaws.com/prod",
        ),
        (_event("127.0.0.1:3000", "prod", {"X-Forwarded-Proto": "http"}), "http://127.0.0.1:3000/prod"),
        (_event("api.example.com", "$default"), "https://api.example.com"),
        (_event(None, "prod"), None),
    ],
)
def test_the_base_is_where_the_request_reached_the_api(
    api_app: ModuleType, event: dict[str, Any], base: str | None
) -> None:
    api_app.app.current_event = APIGatewayProxyEvent(event)
    assert api_app.request_base_url() == base
