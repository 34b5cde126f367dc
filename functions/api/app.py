"""API function: the bridge's HTTP front door (API Gateway REST proxy). Thin: each route parses the
request, makes one call into `runway_bridge.logic` and returns a model; errors become Runway's
`{"error", "code"}` shape.

`GET /v1/openapi.json` serves this API's own OpenAPI document without authentication (it holds no
secret, and tools such as schemathesis read it before they have a key). `GET /console` serves the
tenant console's page and assets without authentication too (they hold no data).
"""

from __future__ import annotations

import json
import math
from functools import cache
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError as RouteNotFoundError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field, ValidationError

from runway_bridge import errors
from runway_bridge.logic.deadline import remaining_ms_of, request_budget_s
from runway_bridge.models.api import LIST_MODEL_MAX_CHARS, LIST_PAGE_DEFAULT, LIST_PAGE_MAX
from runway_bridge.models.console import ConsoleAnswer
from runway_bridge.models.identity import iam_tenant_id
from runway_bridge.models.job import JobStatus
from runway_bridge.models.limits import TooDeepError, loads_bounded
from runway_bridge.models.openapi import DESCRIPTION, TITLE, VERSION, build_openapi_document
from runway_bridge.models.operations import REGISTRY, Operation, OperationSpec
from runway_bridge.observability import logger, metrics, tracer
from runway_bridge.settings import get_settings
from runway_bridge.wiring.api import get_api_services as services

app = APIGatewayRestResolver(enable_validation=True)

JSON = "application/json"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def error_response(status: int, message: str, code: str) -> Response[str]:
    return Response(status_code=status, content_type=JSON, body=json.dumps({"error": message, "code": code}))


class Unauthenticated(Exception):
    """No tenant on the request: API Gateway let through a call the bridge cannot attribute."""


def current_tenant() -> str:
    """The tenant named by the authorizer (bridge keys) or the caller's IAM identity (IAM mode)."""
    request_context = app.current_event.request_context
    authorizer = request_context.authorizer
    tenant_id = authorizer.get("tenantId") if authorizer else None
    if tenant_id:
        return str(tenant_id)
    # AWS_IAM mode: API Gateway has verified the SigV4 signature; the role (not the session name
    # the caller chose) or the user is the tenant.
    user_arn = request_context.identity.user_arn
    if user_arn:
        return iam_tenant_id(user_arn)
    raise Unauthenticated


def request_base_url() -> str | None:
    """Where this request reached the API (`https://<domain>/<stage>`), for links the answer
    carries. Behind a custom domain with a base path, set `BRIDGE_PUBLIC_BASE_URL` instead."""
    request_context = app.current_event.request_context
    domain, stage = request_context.domain_name, request_context.stage
    if not domain:
        return None
    scheme = app.current_event.headers.get("X-Forwarded-Proto") or app.current_event.headers.get(
        "x-forwarded-proto"
    )
    base = f"{'http' if scheme == 'http' else 'https'}://{domain}"
    return f"{base}/{stage}" if stage and stage != "$default" else base


def json_body() -> dict[str, Any]:
    """The request body as a JSON object, or a 400 naming what is wrong."""
    raw = app.current_event.body
    if not raw:
        raise errors.InvalidRequestError("the request body must be a JSON object")
    try:
        body = loads_bounded(app.current_event.decoded_body or "")
    except TooDeepError as exc:
        raise errors.InvalidRequestError(f"the request body: {exc}", code="body_too_deep") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.InvalidRequestError("the request body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise errors.InvalidRequestError("the request body must be a JSON object")
    return body


# --- errors ------------------------------------------------------------------------------------------


def on_request_validation(exc: RequestValidationError) -> Response[str]:
    # Runway answers 400 for a request it refuses; Powertools' default would be 422.
    parts = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error.get("loc", ()))
        parts.append(f"{location}: {error.get('msg', 'invalid')}")
    return error_response(400, "; ".join(parts) or "invalid request", "invalid_request")


def on_unauthenticated(_exc: Unauthenticated) -> Response[str]:
    return error_response(401, "no bridge key or IAM identity on the request", "UNAUTHENTICATED")


def on_bridge_error(exc: errors.BridgeError) -> Response[str]:
    response = error_response(exc.http_status, exc.message, exc.code)
    retry_after = getattr(exc, "retry_after_s", None)
    if retry_after is not None:
        response.headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return response


def on_route_not_found(_exc: RouteNotFoundError) -> Response[str]:
    return error_response(404, "no such route", "NOT_FOUND")


def on_unexpected(exc: Exception) -> Response[str]:
    # Logged with its trace for us; the caller gets no stack trace. The submission logic never lets a
    # failure after a job is recorded reach here (it becomes the job's status instead).
    logger.exception("unhandled error", extra={"error_type": type(exc).__name__})
    return error_response(500, "internal error", "INTERNAL")


def no_store(router: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """Answers carry one tenant's data (its signing secret, presigned URLs): no browser or proxy
    keeps a copy. Routes that set their own cache rule (the console's versioned assets) keep it."""
    response = next_middleware(router)
    response.headers.setdefault("Cache-Control", "no-store")
    return response


app.use(middlewares=[no_store])

# Powertools' exception_handler decorator is untyped; registering by call keeps these typed.
app.exception_handler(RequestValidationError)(on_request_validation)
app.exception_handler(Unauthenticated)(on_unauthenticated)
app.exception_handler(errors.BridgeError)(on_bridge_error)
app.exception_handler(RouteNotFoundError)(on_route_not_found)
app.exception_handler(Exception)(on_unexpected)


# --- routes ------------------------------------------------------------------------------------------


@app.get("/v1/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/v1/openapi.json", include_in_schema=False)
def openapi_document() -> Response[str]:
    return Response(status_code=200, content_type=JSON, body=served_openapi_json())


def submit(operation: Operation, idempotency_key: str | None) -> dict[str, str]:
    tenant_id, body = current_tenant(), json_body()
    # The submit's deadline is this invocation's remaining time, less the reserve for answering.
    budget_s = request_budget_s(remaining_ms_of(app.lambda_context), get_settings())
    result = services().submission.submit(tenant_id, operation, body, idempotency_key, budget_s=budget_s)
    return {"id": result.job_id}


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias=IDEMPOTENCY_HEADER.lower(),
        min_length=1,
        max_length=255,
        description="Scoped to your key: a retry with the same key and body returns the same job.",
    ),
]


def _register_create_route(spec: OperationSpec) -> None:
    def create(idempotency_key: IdempotencyKey = None) -> dict[str, str]:
        return submit(spec.name, idempotency_key)

    create.__name__ = f"create_{spec.name}"
    # The document's entry for this route comes from the registry (models/openapi.py).
    app.post(spec.path, operation_id=f"create_{spec.name}", tags=["tasks"])(create)


for _spec in REGISTRY:
    _register_create_route(_spec)


TaskId = Annotated[str, Path(min_length=1, max_length=128)]


@app.get("/v1/tasks/<task_id>", operation_id="get_task", tags=["tasks"])
def get_task(task_id: TaskId) -> dict[str, Any]:
    return services().tasks.get_view(current_tenant(), task_id, base_url=request_base_url()).to_json()


@app.delete("/v1/tasks/<task_id>", operation_id="delete_task", tags=["tasks"])
def delete_task(task_id: TaskId) -> Response[str]:
    services().tasks.delete(current_tenant(), task_id)
    return Response(status_code=204, content_type=JSON, body="")


@app.get("/v1/tasks", operation_id="list_tasks", tags=["tasks"])
def list_tasks(
    *,
    status: Annotated[JobStatus | None, Query()] = None,
    reference: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
    cursor: Annotated[str | None, Query(min_length=1, max_length=2048)] = None,
    limit: Annotated[int, Query(ge=1, le=LIST_PAGE_MAX)] = LIST_PAGE_DEFAULT,
    operation: Annotated[Operation | None, Query(description="Only jobs of this operation.")] = None,
    model: Annotated[
        str | None,
        Query(min_length=1, max_length=LIST_MODEL_MAX_CHARS, description="Only jobs of this model."),
    ] = None,
) -> dict[str, Any]:
    page = services().tasks.list(
        current_tenant(),
        status=status,
        reference=reference,
        cursor=cursor,
        limit=limit,
        operation=operation,
        model=model,
    )
    return page.to_json()


# --- webhooks and stable output links ------------------------------------------------------------------


class WebhookTestRequest(BaseModel):
    url: str = Field(
        min_length=1, max_length=2048, description="The receiver to POST a signed test event to."
    )


@app.post("/v1/tasks/<task_id>/webhook/redeliver", operation_id="redeliver_webhook", tags=["webhooks"])
def redeliver_webhook(task_id: TaskId) -> Response[str]:
    event = services().webhooks.redeliver(current_tenant(), task_id)
    return Response(
        status_code=202, content_type=JSON, body=json.dumps({"eventId": event.event_id, "type": event.type})
    )


@app.post("/v1/webhooks/test", operation_id="test_webhook", tags=["webhooks"])
def test_webhook() -> dict[str, Any]:
    tenant_id, body = current_tenant(), json_body()
    try:
        request = WebhookTestRequest.model_validate(body)
    except ValidationError as exc:
        raise errors.InvalidRequestError(f"url: {exc.errors()[0]['msg']}") from exc
    result = services().webhooks.send_test(tenant_id, request.url)
    delivered = result.status_code is not None and 200 <= result.status_code < 300
    return {
        "delivered": delivered,
        "statusCode": result.status_code,
        "latencyMs": result.latency_ms,
        "error": result.error,
    }


@app.post("/v1/webhooks/redrive", operation_id="redrive_webhooks", tags=["webhooks"])
def redrive_webhooks() -> dict[str, int]:
    return {"redriven": services().webhooks.redrive(current_tenant())}


@app.get("/v1/webhooks/dead-letters", operation_id="list_webhook_dead_letters", tags=["webhooks"])
def list_webhook_dead_letters() -> dict[str, Any]:
    """Your webhook deliveries that exhausted their attempts, oldest first (at most 100); listing
    moves nothing. `POST /v1/webhooks/redrive` sends them again."""
    return services().webhooks.dead_letters(current_tenant()).to_json()


@app.get("/v1/webhooks/secret", operation_id="get_webhook_secret", tags=["webhooks"])
def get_webhook_secret() -> dict[str, str]:
    return {"secret": services().webhooks.secret(current_tenant())}


@app.post("/v1/webhooks/secret/rotate", operation_id="rotate_webhook_secret", tags=["webhooks"])
def rotate_webhook_secret() -> dict[str, Any]:
    rotated = services().webhooks.rotate_secret(current_tenant())
    return {"secret": rotated.secret, "previousValidForSeconds": rotated.previous_valid_for_s}


@app.get("/v1/outputs/<job_id>/<index>", operation_id="follow_output_link", tags=["outputs"])
def follow_output_link(
    job_id: TaskId,
    index: Annotated[int, Path(ge=0, le=1000)],
    expires: Annotated[int, Query(ge=0)],
    signature: Annotated[str, Query(min_length=1, max_length=128)],
) -> Response[str]:
    # No key: the link's signature is the credential (the route has no authorizer).
    location = services().webhooks.follow_link(job_id, index, expires, signature)
    return Response(status_code=302, content_type=JSON, body="", headers={"Location": location})


@app.get("/v1/usage", operation_id="get_usage", tags=["usage"])
def get_usage() -> dict[str, Any]:
    """Your tenant's counters (in flight, queued, today's jobs, output seconds, credits) against
    its limits; daily counters reset at UTC midnight (`resetsAt`)."""
    return services().usage.usage(current_tenant()).to_json()


@app.post("/v1/uploads", operation_id="create_upload", tags=["uploads"])
def create_upload() -> dict[str, Any]:
    current_tenant()  # uploads are per caller too: refuse what no tenant sent
    return services().tasks.create_upload(json_body())


# --- the console ---------------------------------------------------------------------------------------


def console_response(answer: ConsoleAnswer) -> Response[str]:
    return Response(
        status_code=answer.status, content_type=answer.content_type, body=answer.body, headers=answer.headers
    )


# No authorizer: the pages hold no data; every datum comes from /v1/* with the tenant's key.
@app.get("/console", include_in_schema=False)
def console_page() -> Response[str]:
    return console_response(services().console.page(trailing_slash=app.current_event.path.endswith("/")))


@app.get("/console/<asset>", include_in_schema=False)
def console_asset(asset: str) -> Response[str]:
    version = app.current_event.get_query_string_value("v")
    return console_response(services().console.asset(asset, version=version))


# --- the served OpenAPI document ---------------------------------------------------------------------


@cache
def served_openapi_json() -> str:
    """The router's document, completed from the declarations (runway_bridge/models/openapi.py)."""
    router_document = app.get_openapi_schema(title=TITLE, version=VERSION, description=DESCRIPTION)
    return json.dumps(
        build_openapi_document(
            router_document.model_dump(mode="json", by_alias=True, exclude_none=True),
            request_bodies={("/v1/webhooks/test", "post"): WebhookTestRequest},
        )
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
