"""The local API Gateway, over real loopback HTTP: routing, the REQUEST authorizer and the exact
version 1.0 proxy event a function receives (tests/local/fixtures/glue/template.yaml)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from runway_bridge_dev.local.stack import LocalStack

GLUE_TEMPLATE = Path(__file__).parent / "fixtures" / "glue" / "template.yaml"
GOOD = {"Authorization": "Bearer good-key"}


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(GLUE_TEMPLATE, use_emulator=False, run_schedules=False) as running:
        yield running


@pytest.fixture
def api(stack: LocalStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.api_url, timeout=10) as client:
        yield client


def echoed(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    event: dict[str, Any] = response.json()["event"]
    return event


def test_proxy_event_carries_path_query_headers_stage_and_authorizer_context(
    api: httpx.Client, stack: LocalStack
) -> None:
    response = api.get("/items/42?tag=a&tag=b&q=x%20y", headers={**GOOD, "X-Trace": "t1"})
    event = echoed(response)
    assert event["resource"] == "/items/{itemId}"
    assert event["path"] == "/items/42"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"itemId": "42"}
    # Repeated query names: the last wins in the single-value map, all are kept in the multi-value one.
    assert event["queryStringParameters"] == {"tag": "b", "q": "x y"}
    assert event["multiValueQueryStringParameters"] == {"tag": ["a", "b"], "q": ["x y"]}
    assert event["headers"]["X-Trace"] == "t1"
    assert event["multiValueHeaders"]["X-Trace"] == ["t1"]
    assert event["stageVariables"] == {"flavour": "vanilla"}
    assert event["body"] is None
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["stage"] == "dev"
    assert context["path"] == "/dev/items/42"
    assert context["resourcePath"] == "/items/{itemId}"
    assert context["httpMethod"] == "GET"
    assert context["apiId"] == stack.aws.resolve({"Ref": "Api"})
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["identity"]["apiKey"] == "usage-key-1"
    assert context["requestId"] == response.headers["x-amzn-RequestId"]
    # API Gateway hands the authorizer's context over as strings, plus principalId.
    assert context["authorizer"]["tenant"] == "tenant-1"
    assert context["authorizer"]["tier"] == "2"
    assert context["authorizer"]["trusted"] == "true"
    assert context["authorizer"]["principalId"] == "tenant-1"
    assert context["authorizer"]["usageIdentifierKey"] == "usage-key-1"
    assert response.json()["function"] == stack.aws.resolve({"Ref": "EchoFunction"})


def test_function_headers_and_multi_value_headers_reach_the_client(api: httpx.Client) -> None:
    response = api.get("/items/1", headers=GOOD)
    assert response.status_code == 201
    assert response.headers["X-Single"] == "one"
    assert response.headers.get_list("Set-Cookie") == ["a=1", "b=2"]


def test_served_with_and_without_the_stage_prefix(api: httpx.Client, stack: LocalStack) -> None:
    root = stack.api_servers["Api"].url
    assert stack.api_url == f"{root}/dev"
    unprefixed = echoed(httpx.get(f"{root}/items/7", headers=GOOD))
    assert unprefixed["path"] == "/items/7"
    assert unprefixed["requestContext"]["stage"] == "dev"


def test_literal_resource_wins_over_a_path_parameter(api: httpx.Client) -> None:
    event = echoed(api.get("/items/special", headers=GOOD))
    assert event["resource"] == "/items/special"
    assert event["pathParameters"] is None


def test_greedy_proxy_takes_the_rest_of_the_path_for_any_method(api: httpx.Client) -> None:
    event = echoed(api.delete("/files/a/b/c.txt", headers=GOOD))
    assert event["resource"] == "/files/{proxy+}"
    assert event["httpMethod"] == "DELETE"
    assert event["pathParameters"] == {"proxy": "a/b/c.txt"}


def test_unknown_route_and_unknown_method_answer_missing_authentication_token(api: httpx.Client) -> None:
    for response in (api.get("/nowhere", headers=GOOD), api.post("/items/1", headers=GOOD)):
        assert response.status_code == 403
        assert response.json() == {"message": "Missing Authentication Token"}


def test_missing_identity_source_is_refused_without_calling_the_authorizer(api: httpx.Client) -> None:
    # The fixture authorizer would ALLOW a request without a token: only API Gateway's own check
    # can produce this 401.
    response = api.get("/items/1")
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}


def test_authorizer_raising_unauthorized_answers_401(api: httpx.Client) -> None:
    response = api.get("/items/1", headers={"Authorization": "Bearer who-knows"})
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}


def test_authorizer_deny_policy_answers_403(api: httpx.Client) -> None:
    response = api.get("/items/1", headers={"Authorization": "Bearer banned-key"})
    assert response.status_code == 403
    assert response.json() == {
        "Message": "User is not authorized to access this resource with an explicit deny"
    }


def test_policy_that_does_not_cover_the_method_answers_403(api: httpx.Client) -> None:
    assert (
        echoed(api.get("/files/x", headers={"Authorization": "Bearer read-only-key"}))["path"] == "/files/x"
    )
    response = api.post("/files/x", headers={"Authorization": "Bearer read-only-key"})
    assert response.status_code == 403
    assert response.json() == {"Message": "User is not authorized to access this resource"}


def test_authorizer_failure_answers_500(api: httpx.Client) -> None:
    response = api.get("/items/1", headers={"Authorization": "Bearer broken-key"})
    assert response.status_code == 500
    assert response.json() == {"message": None}


def test_route_without_authorizer_is_open_and_binary_bodies_arrive_base64(api: httpx.Client) -> None:
    payload = bytes([0, 255, 1, 254])
    event = echoed(api.post("/open", content=payload, headers={"Content-Type": "application/octet-stream"}))
    assert event["isBase64Encoded"] is True
    assert event["body"] == "AP8B/g=="
    assert "authorizer" not in event["requestContext"]
    text = echoed(api.post("/open", json={"hello": "wörld"}))
    assert text["isBase64Encoded"] is False
    assert json.loads(text["body"]) == {"hello": "wörld"}


def test_base64_response_is_decoded_only_for_a_binary_accept_type(api: httpx.Client) -> None:
    binary = api.get("/files/binary", headers={**GOOD, "Accept": "application/octet-stream"})
    assert binary.status_code == 200
    assert binary.content == bytes(range(256))
    # Without a binary Accept type API Gateway passes the base64 text through untouched.
    text = api.get("/files/binary", headers=GOOD)
    assert text.content != bytes(range(256))
    assert len(text.content) == 344


def test_function_error_and_malformed_answer_are_502(api: httpx.Client) -> None:
    for path in ("/files/crash", "/files/malformed"):
        response = api.get(path, headers=GOOD)
        assert response.status_code == 502
        assert response.json() == {"message": "Internal server error"}


def test_cached_authorizer_answer_is_reused_for_other_routes_like_api_gateway(api: httpx.Client) -> None:
    # The cached policy allows only the first method ARN; API Gateway reuses it for the same key on
    # other routes (and denies them) instead of calling the authorizer again.
    first = echoed(api.get("/cached/a", headers=GOOD))
    assert first["requestContext"]["authorizer"]["authorizedPath"] == "/cached/a"
    again = echoed(api.get("/cached/a", headers=GOOD))
    assert again["requestContext"]["authorizer"]["authorizedPath"] == "/cached/a"
    other = api.get("/cached/b", headers=GOOD)
    assert other.status_code == 403
    assert other.json() == {"Message": "User is not authorized to access this resource"}


def test_the_function_learns_the_scheme_and_address_the_client_used(api: httpx.Client) -> None:
    # What a handler builds its own links from (functions/api/app.py `request_base_url`).
    event = echoed(api.post("/open", json={}))
    headers = {name.lower(): value for name, value in event["headers"].items()}
    assert headers["x-forwarded-proto"] == "http"
    assert event["requestContext"]["domainName"] == urlsplit(str(api.base_url)).netloc
    assert event["requestContext"]["stage"]
