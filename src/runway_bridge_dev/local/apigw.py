"""A local stand-in for an API Gateway REST API with Lambda proxy integrations.

moto has no Lambda proxy, so this serves the swagger `Body` that aws-sam-translator puts on each
`AWS::ApiGateway::RestApi`: it matches routes like API Gateway (`{param}`, `{proxy+}`, stage prefix),
runs the REQUEST authorizer, builds the version 1.0 proxy event and turns the function's answer back
into HTTP. Functions run in-process through the local `FunctionRunner`.
"""

from __future__ import annotations

import base64
import binascii
import concurrent.futures
import contextlib
import copy
import fnmatch
import json
import logging
import re
import socket
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

from runway_bridge_dev.local.functions import FunctionError

log = logging.getLogger(__name__)

INTEGRATION_EXTENSION = "x-amazon-apigateway-integration"
AUTHORIZER_EXTENSION = "x-amazon-apigateway-authorizer"
ANY_METHOD_EXTENSION = "x-amazon-apigateway-any-method"
BINARY_MEDIA_TYPES_EXTENSION = "x-amazon-apigateway-binary-media-types"
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
# API Gateway's maximum (and SAM's default) integration timeout.
DEFAULT_INTEGRATION_TIMEOUT_S = 29.0
# API Gateway caches authorizer results for this long when the authorizer does not say.
DEFAULT_AUTHORIZER_TTL_S = 300
# `.../functions/<function arn>/invocations`
_LAMBDA_URI = re.compile(
    r"^arn:aws[a-z-]*:apigateway:[^:]+:lambda:path/[^/]+/functions/(?P<arn>.+)/invocations$"
)


class FunctionInvoker(Protocol):
    """What this server needs from the local function runner."""

    def invoke(self, name_or_arn: str, event: dict[str, Any], *, timeout_s: float | None = None) -> Any: ...


class UnsupportedApiFeature(Exception):
    """The API definition uses something this local API Gateway does not emulate."""


@dataclass(frozen=True)
class Authorizer:
    name: str
    function_arn: str
    # e.g. ["method.request.header.Authorization", "method.request.querystring.key"]
    identity_sources: tuple[str, ...]
    ttl_s: int


@dataclass(frozen=True)
class Integration:
    kind: str  # "aws_proxy" or "mock"
    function_arn: str | None
    timeout_s: float
    mock_headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Method:
    resource_path: str
    http_method: str  # upper case, or "ANY"
    integration: Integration
    authorizer: Authorizer | None
    api_key_required: bool


@dataclass(frozen=True)
class RestApiDefinition:
    """One REST API, with every intrinsic function of its swagger body already resolved."""

    logical_id: str
    api_id: str
    body: Mapping[str, Any]
    # stage name -> stage variables; the first stage is the one served without a prefix.
    stages: Mapping[str, Mapping[str, str]]
    api_key_source: str = "HEADER"


@dataclass(frozen=True)
class _RouteMatch:
    resource_path: str
    path_parameters: dict[str, str]
    methods: dict[str, Method]


@dataclass(frozen=True)
class _Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    # API Gateway's own answer of this gateway response type (None: the integration's answer).
    gateway_response: str | None = None
    message: str | None = None


def _json_response(
    status: int,
    payload: Any,
    extra_headers: list[tuple[str, str]] | None = None,
    *,
    gateway_response: str | None = None,
) -> _Response:
    headers = [("Content-Type", "application/json"), *(extra_headers or [])]
    message = next(iter(payload.values()), None) if isinstance(payload, dict) else None
    body = json.dumps(payload, separators=(",", ":")).encode()
    return _Response(status, headers, body, gateway_response, message)


GATEWAY_RESPONSES_EXTENSION = "x-amazon-apigateway-gateway-responses"


def _customised(response: _Response, declared: Mapping[str, Any]) -> _Response:
    """API Gateway's own answer through the API's gateway responses (type, else DEFAULT_4XX/5XX):
    the declared status and JSON template, `$context.error.messageString` being the quoted message."""
    if response.gateway_response is None:
        return response
    fallback = "DEFAULT_5XX" if response.status >= 500 else "DEFAULT_4XX"
    spec = declared.get(response.gateway_response) or declared.get(fallback)
    template = ((spec or {}).get("responseTemplates") or {}).get("application/json")
    if template is None:
        return response
    rendered = str(template).replace("$context.error.messageString", json.dumps(response.message))
    status = int((spec or {}).get("statusCode") or response.status)
    return _Response(status, list(response.headers), rendered.encode())


# API Gateway's own answers, byte for byte where clients may parse them.
def _missing_token() -> _Response:
    return _json_response(
        403,
        {"message": "Missing Authentication Token"},
        [("x-amzn-ErrorType", "MissingAuthenticationTokenException")],
        gateway_response="MISSING_AUTHENTICATION_TOKEN",
    )


def _unauthorized() -> _Response:
    return _json_response(
        401,
        {"message": "Unauthorized"},
        [("x-amzn-ErrorType", "UnauthorizedException")],
        gateway_response="UNAUTHORIZED",
    )


def _access_denied(explicit: bool) -> _Response:
    message = "User is not authorized to access this resource"
    if explicit:
        message += " with an explicit deny"
    return _json_response(
        403,
        {"Message": message},
        [("x-amzn-ErrorType", "AccessDeniedException")],
        gateway_response="ACCESS_DENIED",
    )


def _forbidden() -> _Response:
    return _json_response(
        403,
        {"message": "Forbidden"},
        [("x-amzn-ErrorType", "ForbiddenException")],
        gateway_response="INVALID_API_KEY",
    )


def _authorizer_failure() -> _Response:
    return _json_response(
        500,
        {"message": None},
        [("x-amzn-ErrorType", "AuthorizerConfigurationException")],
        gateway_response="AUTHORIZER_FAILURE",
    )


def _bad_gateway() -> _Response:
    return _json_response(502, {"message": "Internal server error"}, gateway_response="INTEGRATION_FAILURE")


def _gateway_timeout() -> _Response:
    return _json_response(
        504, {"message": "Endpoint request timed out"}, gateway_response="INTEGRATION_TIMEOUT"
    )


def _function_arn(uri: Any, where: str) -> str:
    match = _LAMBDA_URI.match(uri) if isinstance(uri, str) else None
    if not match:
        raise UnsupportedApiFeature(f"{where}: expected a resolved Lambda invocation URI, got {uri!r}")
    return match.group("arn")


def _parse_authorizers(body: Mapping[str, Any]) -> dict[str, Authorizer]:
    authorizers: dict[str, Authorizer] = {}
    # Swagger 2 keeps them in securityDefinitions, OpenAPI 3 (SAM's OpenApiVersion) in components.
    schemes = body.get("securityDefinitions") or (body.get("components") or {}).get("securitySchemes") or {}
    for name, definition in schemes.items():
        extension = definition.get(AUTHORIZER_EXTENSION)
        if extension is None:
            continue  # api_key and other non-Lambda schemes are handled per method
        kind = str(extension.get("type", "")).lower()
        if kind != "request":
            raise UnsupportedApiFeature(
                f"authorizer {name}: type {kind!r} (only REQUEST authorizers are emulated)"
            )
        source = str(extension.get("identitySource") or "")
        authorizers[name] = Authorizer(
            name=name,
            function_arn=_function_arn(extension.get("authorizerUri"), f"authorizer {name}"),
            identity_sources=tuple(part.strip() for part in source.split(",") if part.strip()),
            ttl_s=int(extension.get("authorizerResultTtlInSeconds", DEFAULT_AUTHORIZER_TTL_S)),
        )
    return authorizers


def _parse_integration(operation: Mapping[str, Any], where: str) -> Integration:
    extension = operation.get(INTEGRATION_EXTENSION)
    if extension is None:
        raise UnsupportedApiFeature(f"{where}: no {INTEGRATION_EXTENSION}")
    kind = str(extension.get("type", "")).lower()
    timeout_s = float(extension.get("timeoutInMillis", DEFAULT_INTEGRATION_TIMEOUT_S * 1000)) / 1000
    if kind == "aws_proxy":
        return Integration("aws_proxy", _function_arn(extension.get("uri"), where), timeout_s)
    if kind == "mock":
        # SAM's CORS preflight: answer with the static headers of the default response.
        default = (extension.get("responses") or {}).get("default") or {}
        headers = {
            name.removeprefix("method.response.header."): str(value).strip("'")
            for name, value in (default.get("responseParameters") or {}).items()
        }
        return Integration("mock", None, timeout_s, headers)
    raise UnsupportedApiFeature(f"{where}: integration type {kind!r} (only aws_proxy and mock are emulated)")


def _parse_methods(
    body: Mapping[str, Any], authorizers: Mapping[str, Authorizer]
) -> dict[str, dict[str, Method]]:
    default_security = body.get("security")
    methods_by_path: dict[str, dict[str, Method]] = {}
    for resource_path, operations in (body.get("paths") or {}).items():
        methods: dict[str, Method] = {}
        for key, operation in operations.items():
            if key == ANY_METHOD_EXTENSION:
                http_method = "ANY"
            elif key.lower() in HTTP_METHODS:
                http_method = key.upper()
            else:
                continue  # "parameters" and other non-operation keys
            where = f"{http_method} {resource_path}"
            authorizer: Authorizer | None = None
            api_key_required = False
            for requirement in operation.get("security", default_security) or []:
                for scheme in requirement:
                    if scheme in authorizers:
                        authorizer = authorizers[scheme]
                    elif scheme == "api_key":
                        api_key_required = True
            methods[http_method] = Method(
                resource_path, http_method, _parse_integration(operation, where), authorizer, api_key_required
            )
        methods_by_path[resource_path] = methods
    return methods_by_path


def _match_segments(template: list[str], actual: list[str]) -> tuple[dict[str, str], tuple[int, ...]] | None:
    """Match path segments; the score ranks literal over `{param}` over `{proxy+}` like API Gateway."""
    parameters: dict[str, str] = {}
    score: list[int] = []
    for index, part in enumerate(template):
        if part.startswith("{") and part.endswith("+}"):
            rest = actual[index:]
            if not rest or index != len(template) - 1:
                return None
            parameters[part[1:-2]] = "/".join(rest)
            score.append(0)
            return parameters, tuple(score)
        if index >= len(actual):
            return None
        if part.startswith("{") and part.endswith("}"):
            parameters[part[1:-1]] = actual[index]
            score.append(1)
        elif part == actual[index]:
            score.append(2)
        else:
            return None
    if len(actual) != len(template):
        return None
    return parameters, tuple(score)


def _split_path(path: str) -> list[str]:
    return [segment for segment in path.split("/") if segment]


def _arn_pattern_matches(pattern: str, arn: str) -> bool:
    # IAM wildcards: `*` any run of characters, `?` exactly one; nothing else is special.
    return fnmatch.fnmatchcase(arn, pattern.replace("[", "[[]"))


def _evaluate_policy(policy: Any, method_arn: str) -> bool | None:
    """True: allowed; False: explicitly denied; None: no statement allows it."""
    if not isinstance(policy, Mapping):
        raise ValueError("policyDocument is not an object")
    statements = policy.get("Statement")
    if isinstance(statements, Mapping):
        statements = [statements]
    if not isinstance(statements, list):
        raise ValueError("policyDocument.Statement is missing")
    allowed = False
    for statement in statements:
        actions = statement.get("Action", [])
        resources = statement.get("Resource", [])
        actions = [actions] if isinstance(actions, str) else actions
        resources = [resources] if isinstance(resources, str) else resources
        if not any(_arn_pattern_matches(action, "execute-api:Invoke") for action in actions):
            continue
        if not any(_arn_pattern_matches(resource, method_arn) for resource in resources):
            continue
        effect = str(statement.get("Effect", ""))
        if effect == "Deny":
            return False
        if effect == "Allow":
            allowed = True
    return True if allowed else None


def _stringify_context_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    # API Gateway refuses objects and arrays in an authorizer's context.
    raise ValueError(
        f"authorizer context values must be string, number or boolean, got {type(value).__name__}"
    )


class LocalRestApi:
    """Routing, authorization and proxy-event logic of one REST API (no sockets; see `ApiGatewayServer`)."""

    def __init__(
        self,
        definition: RestApiDefinition,
        invoker: FunctionInvoker,
        *,
        region: str,
        account_id: str,
        max_workers: int = 16,
    ) -> None:
        if not definition.stages:
            raise UnsupportedApiFeature(f"REST API {definition.logical_id} has no stage")
        self.definition = definition
        self._invoker = invoker
        self._region = region
        self._account_id = account_id
        self._authorizers = _parse_authorizers(definition.body)
        self._methods = _parse_methods(definition.body, self._authorizers)
        self._binary_media_types = [
            media_type.replace("~1", "/")
            for media_type in definition.body.get(BINARY_MEDIA_TYPES_EXTENSION) or []
        ]
        self._authorizer_cache: dict[tuple[str, tuple[str, ...]], tuple[float, dict[str, Any]]] = {}
        self._cache_lock = threading.Lock()
        # Calls run on workers so a slow function answers 504 at the integration timeout, like API Gateway.
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers, thread_name_prefix="apigw-invoke")

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    @property
    def default_stage(self) -> str:
        return next(iter(self.definition.stages))

    def handle(
        self,
        http_method: str,
        raw_path: str,
        headers: list[tuple[str, str]],
        body: bytes,
        *,
        source_ip: str,
        host: str,
    ) -> _Response:
        request_id = str(uuid.uuid4())
        try:
            response = self._handle(
                http_method=http_method,
                raw_path=raw_path,
                headers=headers,
                body=body,
                source_ip=source_ip,
                host=host,
                request_id=request_id,
            )
        except Exception:  # an emulator bug must not look like the API's answer
            log.exception("local API Gateway failed on %s %s", http_method, raw_path)
            response = _json_response(500, {"message": "Internal server error (local API Gateway)"})
        response = _customised(response, self.definition.body.get(GATEWAY_RESPONSES_EXTENSION) or {})
        response.headers.append(("x-amzn-RequestId", request_id))
        return response

    def _handle(
        self,
        *,
        http_method: str,
        raw_path: str,
        headers: list[tuple[str, str]],
        body: bytes,
        source_ip: str,
        host: str,
        request_id: str,
    ) -> _Response:
        split = urlsplit(raw_path)
        segments = [unquote(segment) for segment in _split_path(split.path)]
        stage = self.default_stage
        if segments and segments[0] in self.definition.stages:
            stage, segments = segments[0], segments[1:]
        route = self._route(segments)
        if route is None:
            return _missing_token()
        method = route.methods.get(http_method.upper()) or route.methods.get("ANY")
        if method is None:
            return _missing_token()
        path = "/" + "/".join(segments)
        # Like API Gateway, which tells the function how the client reached it (here: plain http).
        if not any(name.lower() == "x-forwarded-proto" for name, _ in headers):
            headers = [*headers, ("X-Forwarded-Proto", "http")]
        request = _ProxyRequest.build(
            method=method,
            http_method=http_method.upper(),
            path=path,
            stage=stage,
            query=split.query,
            headers=headers,
            body=body,
            binary_media_types=self._binary_media_types,
            path_parameters=route.path_parameters,
            stage_variables=dict(self.definition.stages[stage]),
        )
        context = self._request_context(request, source_ip, host, request_id)
        authorizer_context: dict[str, Any] | None = None
        api_key: str | None = None
        if method.authorizer is not None:
            outcome = self._authorize(method.authorizer, request, context)
            if isinstance(outcome, _Response):
                return outcome
            authorizer_context = outcome
            api_key = outcome.get("usageIdentifierKey")
        if method.api_key_required:
            if self.definition.api_key_source.upper() == "HEADER":
                api_key = request.header("x-api-key")
            if not api_key:
                return _forbidden()
        if method.integration.kind == "mock":
            return _Response(
                200, [("Content-Type", "application/json"), *method.integration.mock_headers.items()], b""
            )
        if authorizer_context is not None:
            context["authorizer"] = authorizer_context
        if api_key:
            context["identity"]["apiKey"] = api_key
        event = request.proxy_event(context)
        return self._integrate(method, event, request)

    def _route(self, segments: list[str]) -> _RouteMatch | None:
        best: tuple[tuple[int, ...], _RouteMatch] | None = None
        for resource_path, methods in self._methods.items():
            matched = _match_segments(_split_path(resource_path), segments)
            if matched is None:
                continue
            parameters, score = matched
            if best is None or score > best[0]:
                best = (score, _RouteMatch(resource_path, parameters, methods))
        return best[1] if best else None

    def _request_context(
        self, request: _ProxyRequest, source_ip: str, host: str, request_id: str
    ) -> dict[str, Any]:
        now = datetime.now(UTC)
        resource_id = uuid.uuid5(uuid.NAMESPACE_URL, request.method.resource_path).hex[:6]
        return {
            "resourceId": resource_id,
            "resourcePath": request.method.resource_path,
            "httpMethod": request.http_method,
            "extendedRequestId": base64.b64encode(uuid.uuid4().bytes[:12]).decode().rstrip("="),
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "path": f"/{request.stage}{request.path}",
            "accountId": self._account_id,
            "protocol": "HTTP/1.1",
            "stage": request.stage,
            "domainPrefix": host.partition(":")[0].partition(".")[0],
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "requestId": request_id,
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "sourceIp": source_ip,
                "principalOrgId": None,
                "accessKey": None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": request.header("user-agent"),
                "user": None,
            },
            "domainName": host,
            "apiId": self.definition.api_id,
        }

    def method_arn(self, request: _ProxyRequest) -> str:
        return (
            f"arn:aws:execute-api:{self._region}:{self._account_id}:{self.definition.api_id}/"
            f"{request.stage}/{request.http_method}{request.path}"
        )

    def _authorize(
        self, authorizer: Authorizer, request: _ProxyRequest, context: dict[str, Any]
    ) -> dict[str, Any] | _Response:
        identity: list[str] = []
        for source in authorizer.identity_sources:
            value = request.identity_value(source, context)
            if not value:
                return _unauthorized()  # API Gateway answers without calling the authorizer
            identity.append(value)
        method_arn = self.method_arn(request)
        cache_key = (authorizer.name, tuple(identity))
        result = self._cached_authorization(cache_key) if authorizer.ttl_s > 0 and identity else None
        if result is None:
            event = request.authorizer_event(method_arn, context)
            try:
                outcome = self._invoker.invoke(authorizer.function_arn, event)
            except FunctionError as exc:
                if exc.error_message == "Unauthorized":
                    return _unauthorized()
                log.warning("authorizer %s failed: %s", authorizer.name, exc)
                return _authorizer_failure()
            if (
                not isinstance(outcome, dict)
                or "policyDocument" not in outcome
                or "principalId" not in outcome
            ):
                log.warning(
                    "authorizer %s answered without principalId/policyDocument: %r", authorizer.name, outcome
                )
                return _authorizer_failure()
            result = outcome
            if authorizer.ttl_s > 0 and identity:
                with self._cache_lock:
                    self._authorizer_cache[cache_key] = (time.monotonic() + authorizer.ttl_s, result)
        try:
            decision = _evaluate_policy(result["policyDocument"], method_arn)
            authorizer_context: dict[str, Any] = {
                key: _stringify_context_value(value) for key, value in (result.get("context") or {}).items()
            }
        except ValueError as exc:
            log.warning("authorizer %s answered an invalid policy or context: %s", authorizer.name, exc)
            return _authorizer_failure()
        if decision is not True:
            return _access_denied(explicit=decision is False)
        authorizer_context["principalId"] = str(result["principalId"])
        authorizer_context["integrationLatency"] = 0
        if result.get("usageIdentifierKey") is not None:
            authorizer_context["usageIdentifierKey"] = str(result["usageIdentifierKey"])
        return authorizer_context

    def _cached_authorization(self, key: tuple[str, tuple[str, ...]]) -> dict[str, Any] | None:
        with self._cache_lock:
            cached = self._authorizer_cache.get(key)
            if cached is None or cached[0] < time.monotonic():
                self._authorizer_cache.pop(key, None)
                return None
            return cached[1]

    def _integrate(self, method: Method, event: dict[str, Any], request: _ProxyRequest) -> _Response:
        assert method.integration.function_arn is not None
        future = self._executor.submit(self._invoker.invoke, method.integration.function_arn, event)
        try:
            result = future.result(timeout=method.integration.timeout_s)
        except concurrent.futures.TimeoutError:
            return _gateway_timeout()
        except FunctionError as exc:  # includes the function's own timeout: Lambda answers an error
            log.warning("%s %s: function error: %s", request.http_method, request.path, exc)
            return _bad_gateway()
        try:
            return self._proxy_response(result, request)
        except ValueError as exc:
            log.warning("%s %s: malformed Lambda proxy response: %s", request.http_method, request.path, exc)
            return _bad_gateway()

    def _proxy_response(self, result: Any, request: _ProxyRequest) -> _Response:
        if not isinstance(result, dict):
            raise ValueError(f"expected an object, got {type(result).__name__}")
        unknown = set(result) - {
            "statusCode",
            "headers",
            "multiValueHeaders",
            "body",
            "isBase64Encoded",
            "cookies",
        }
        if unknown:
            raise ValueError(f"unexpected fields {sorted(unknown)}")
        try:
            status = int(result.get("statusCode", 200))
        except (TypeError, ValueError) as exc:
            raise ValueError("statusCode is not an integer") from exc
        body = result.get("body")
        if body is not None and not isinstance(body, str):
            raise ValueError("body must be a string")
        headers: list[tuple[str, str]] = []
        single = result.get("headers") or {}
        multi = result.get("multiValueHeaders") or {}
        if not isinstance(single, dict) or not isinstance(multi, dict):
            raise ValueError("headers and multiValueHeaders must be objects")
        for name, values in multi.items():
            if not isinstance(values, list):
                raise ValueError(f"multiValueHeaders[{name!r}] must be a list")
            headers.extend((name, str(value)) for value in values)
        multi_names = {name.lower() for name in multi}
        headers.extend(
            (name, str(value)) for name, value in single.items() if name.lower() not in multi_names
        )
        if not any(name.lower() == "content-type" for name, _ in headers):
            headers.append(("Content-Type", "application/json"))
        payload = (body or "").encode()
        if result.get("isBase64Encoded") and self._binary_response_wanted(request):
            try:
                payload = base64.b64decode(body or "", validate=True)
            except binascii.Error as exc:
                raise ValueError("isBase64Encoded but the body is not base64") from exc
        return _Response(status, headers, payload)

    def _binary_response_wanted(self, request: _ProxyRequest) -> bool:
        # API Gateway decodes a base64 body only for an Accept type listed as binary on the API.
        accept = request.header("accept") or ""
        accepted = [part.split(";")[0].strip() for part in accept.split(",") if part.strip()]
        return any(
            fnmatch.fnmatchcase(media_type, pattern)
            for media_type in accepted
            for pattern in self._binary_media_types
        )


@dataclass
class _ProxyRequest:
    method: Method
    http_method: str
    path: str
    stage: str
    headers: dict[str, str] | None
    multi_value_headers: dict[str, list[str]] | None
    query: dict[str, str] | None
    multi_value_query: dict[str, list[str]] | None
    path_parameters: dict[str, str] | None
    stage_variables: dict[str, str] | None
    body: str | None
    is_base64_encoded: bool

    @classmethod
    def build(
        cls,
        *,
        method: Method,
        http_method: str,
        path: str,
        stage: str,
        query: str,
        headers: list[tuple[str, str]],
        body: bytes,
        binary_media_types: list[str],
        path_parameters: dict[str, str],
        stage_variables: dict[str, str],
    ) -> _ProxyRequest:
        single: dict[str, str] = {}
        multi: dict[str, list[str]] = {}
        for name, value in headers:
            single[name] = value  # the last value wins, like API Gateway
            multi.setdefault(name, []).append(value)
        query_single: dict[str, str] = {}
        query_multi: dict[str, list[str]] = {}
        for name, value in parse_qsl(query, keep_blank_values=True):
            query_single[name] = value
            query_multi.setdefault(name, []).append(value)
        content_type = next((value for name, value in headers if name.lower() == "content-type"), "")
        media_type = content_type.split(";")[0].strip()
        text: str | None = None
        is_binary = False
        if body:
            is_binary = any(fnmatch.fnmatchcase(media_type, pattern) for pattern in binary_media_types)
            if not is_binary:
                try:
                    text = body.decode()
                except UnicodeDecodeError:
                    is_binary = True  # never hand a function mangled bytes
            if is_binary:
                text = base64.b64encode(body).decode()
        return cls(
            method=method,
            http_method=http_method,
            path=path,
            stage=stage,
            headers=single or None,
            multi_value_headers=multi or None,
            query=query_single or None,
            multi_value_query=query_multi or None,
            path_parameters=path_parameters or None,
            stage_variables=stage_variables or None,
            body=text,
            is_base64_encoded=is_binary,
        )

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in (self.headers or {}).items():
            if key.lower() == wanted:
                return value
        return None

    def identity_value(self, source: str, context: Mapping[str, Any]) -> str | None:
        if source.startswith("method.request.header."):
            return self.header(source.removeprefix("method.request.header."))
        if source.startswith("method.request.querystring."):
            return (self.query or {}).get(source.removeprefix("method.request.querystring."))
        if source.startswith("stageVariables."):
            return (self.stage_variables or {}).get(source.removeprefix("stageVariables."))
        if source.startswith("context."):
            value: Any = context
            for part in source.removeprefix("context.").split("."):
                value = value.get(part) if isinstance(value, Mapping) else None
            return None if value is None else str(value)
        raise UnsupportedApiFeature(f"identity source {source!r}")

    def _request_fields(self, context: dict[str, Any]) -> dict[str, Any]:
        """What the REQUEST authorizer event and the proxy event both carry about the request."""
        return {
            "resource": self.method.resource_path,
            "path": self.path,
            "httpMethod": self.http_method,
            "headers": self.headers,
            "multiValueHeaders": self.multi_value_headers,
            "queryStringParameters": self.query,
            "multiValueQueryStringParameters": self.multi_value_query,
            "pathParameters": self.path_parameters,
            "stageVariables": self.stage_variables,
            "requestContext": context,
        }

    def authorizer_event(self, method_arn: str, context: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "REQUEST",
            "methodArn": method_arn,
            **self._request_fields(copy.deepcopy(context)),
        }

    def proxy_event(self, context: dict[str, Any]) -> dict[str, Any]:
        return {
            **self._request_fields(context),
            "body": self.body,
            "isBase64Encoded": self.is_base64_encoded,
        }


class _TrackingHTTPServer(ThreadingHTTPServer):
    """Remembers open connections so stop() can end idle keep-alive ones (they hold threads)."""

    daemon_threads = True
    # socketserver's default backlog of 5 resets connections when callers open many at once (API
    # Gateway accepts them all).
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class ApiGatewayServer:
    """Serves one `LocalRestApi` over HTTP on 127.0.0.1 (a free port unless one is given)."""

    def __init__(self, api: LocalRestApi, *, port: int = 0) -> None:
        self.api = api
        handler = _make_handler(api)
        self._server = _TrackingHTTPServer(("127.0.0.1", port), handler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def stage_url(self) -> str:
        """The URL a deployed API would have (`.../<stage>`); the unprefixed `url` works too."""
        return f"{self.url}/{self.api.default_stage}"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"apigw-{self.api.definition.logical_id}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.api.close()

    def __enter__(self) -> ApiGatewayServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _make_handler(api: LocalRestApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in separate writes: without this, Nagle + delayed ACK add ~40 ms.
        disable_nagle_algorithm = True
        server_version = "local-apigateway"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            response = api.handle(
                self.command,
                self.path,
                list(self.headers.items()),
                body,
                source_ip=self.client_address[0],
                host=self.headers.get("Host") or "127.0.0.1",
            )
            try:
                self.send_response(response.status)
                for name, value in response.headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(response.body)
            except (BrokenPipeError, ConnectionResetError):
                # The caller gave up waiting (its own timeout) and closed the connection, as a
                # client of API Gateway may: nothing to answer, and no stack trace on the console.
                log.debug("caller closed the connection before the answer to %s %s", self.command, self.path)
                self.close_connection = True

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

        def __getattr__(self, name: str) -> Any:
            # Any other method (TRACE, CONNECT, QUERY, ...) gets API Gateway's answer for a method no
            # route defines (403 Missing Authentication Token), not the stdlib's 501.
            if name.startswith("do_"):
                return self._serve
            raise AttributeError(name)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s " + format, self.address_string(), *args)

    return Handler
