"""Models of the bridge's own HTTP API (no I/O): create bodies, the task view, list pages, errors.

A create body is a Runway body plus the optional bridge fields (`BridgeFields`). The submission
service validates the raw dict itself (so passthrough mode can relax the Runway part);
`create_body_model` describes the same bodies for the served OpenAPI document (models/openapi.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    create_model,
    model_serializer,
)

from runway_bridge.models.job import BRIDGE_FIELD_NAMES, BridgeFields, JobStatus
from runway_bridge.models.operations import REGISTRY, Operation, OperationSpec

# Runway's task statuses as the bridge reports them (SDK code branches on these).
ViewStatus = Literal["PENDING", "THROTTLED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"]

LIST_PAGE_DEFAULT: Final = 25
LIST_PAGE_MAX: Final = 100
# The longest model name a list filter takes (Runway's names are far shorter).
LIST_MODEL_MAX_CHARS: Final = 64


# The bridge's caller reference under a name no Runway body uses: `reference` is also a Runway
# field (character_performance's reference video/image), and there it belongs to Runway.
BRIDGE_REFERENCE_FIELD: Final = "bridgeReference"


def runway_field_names(operation: Operation) -> frozenset[str]:
    """The JSON names of the Runway body's fields for `operation`."""
    return _field_names(REGISTRY[operation].request_model)


def _field_names(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(info.alias or name for name, info in model.model_fields.items())


def bridge_field_names(operation: Operation) -> frozenset[str]:
    """The JSON names that are bridge fields in a create body of `operation` (split off, stored,
    never forwarded): the bridge fields Runway's body does not use itself, plus `bridgeReference`."""
    return (BRIDGE_FIELD_NAMES - runway_field_names(operation)) | {BRIDGE_REFERENCE_FIELD}


def create_body_model(spec: OperationSpec) -> type[BaseModel]:
    """Runway's body of `spec` plus the bridge fields it does not use itself (the OpenAPI
    document's create body; the service validates raw dicts, see module docstring)."""
    runway_model = spec.request_model
    runway_names = _field_names(runway_model)
    bridge_fields: dict[str, Any] = {
        name: (info.annotation, info)
        for name, info in BridgeFields.model_fields.items()
        if (info.alias or name) not in runway_names
    }
    reference = BridgeFields.model_fields["reference"]
    bridge_fields["bridge_reference"] = (
        reference.annotation,
        Field(
            default=None,
            alias=BRIDGE_REFERENCE_FIELD,
            min_length=1,
            max_length=256,
            description="The caller's reference (what `reference` is where Runway has no `reference`).",
        ),
    )
    return create_model(  # type: ignore[call-overload, no-any-return]
        f"{runway_model.__name__.removesuffix('Request')}Body",
        __base__=runway_model,
        __doc__=f"Runway's `{spec.name}` body plus the optional bridge fields.",
        **bridge_fields,
    )


class CreateTaskResponse(BaseModel):
    """What every `POST /v1/<operation>` answers: the bridge job id (the SDK reads `id`)."""

    id: str


class OutputView(BaseModel):
    """One output copy in S3, with a presigned URL that works for `output_url_ttl_s`."""

    model_config = ConfigDict(populate_by_name=True)

    index: int
    s3_uri: str = Field(alias="s3Uri")
    sha256: str
    content_type: str = Field(alias="contentType")
    size: int
    url: str
    # The stable link (`GET /v1/outputs/{jobId}/{index}?expires=&signature=`: a redirect to a fresh
    # presigned URL, no key needed) and when it expires; only in `GET /v1/tasks/{id}`.
    link: str | None = None
    link_expires_at: datetime | None = Field(default=None, alias="linkExpiresAt")


class EstimatedCost(BaseModel):
    credits: float


class FinalCost(BaseModel):
    credits: int


class DeliveryView(BaseModel):
    """One webhook attempt, as `GET /v1/tasks/{id}` shows it."""

    model_config = ConfigDict(populate_by_name=True)

    event_id: str = Field(alias="eventId")
    type: str
    attempt: int
    at: datetime
    status_code: int | None = Field(default=None, alias="statusCode")
    latency_ms: int = Field(alias="latencyMs")
    error: str | None = None
    outcome: str
    # The start of the receiver's answer (settings `webhook_answer_excerpt_bytes`), control
    # characters stripped; null without an answer body.
    answer_excerpt: str | None = Field(default=None, alias="answerExcerpt")


TimelineKind = Literal["submitted", "runway_task", "status", "notification", "webhook_attempt"]


class TimelineEntry(BaseModel):
    """One moment of a job's life in `GET /v1/tasks/{id}` (`bridge.timeline`, sorted by `at`):
    its creation, the Runway task id becoming known, each status it entered, each notification
    event and each webhook attempt. Fields that do not apply to a kind are null."""

    model_config = ConfigDict(populate_by_name=True)

    at: datetime
    kind: TimelineKind
    status: str | None = None
    event_type: str | None = Field(default=None, alias="eventType")
    attempt: int | None = None
    detail: str | None = None

    @model_serializer(mode="wrap")
    def _every_key(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> dict[str, Any]:
        # Every entry has the same keys (null where a kind has no value), even in a view dumped
        # without its nulls.
        dumped: dict[str, Any] = handler(self)
        names = [
            (field.alias if info.by_alias and field.alias else name)
            for name, field in type(self).model_fields.items()
        ]
        return {name: dumped.get(name) for name in names}


class BridgeInfo(BaseModel):
    """The `bridge` object of a task view: what the bridge knows beyond Runway's task shape."""

    model_config = ConfigDict(populate_by_name=True)

    job_id: str = Field(alias="jobId")
    status: JobStatus
    operation: Operation
    model: str
    runway_task_id: str | None = Field(default=None, alias="runwayTaskId")
    runway_status: str | None = Field(default=None, alias="runwayStatus")
    reference: str | None = None
    metadata: dict[str, str] | None = None
    callback_url: str | None = Field(default=None, alias="callbackUrl")
    events: list[str] | None = None
    outputs: list[OutputView] = Field(default_factory=list)
    created_at: datetime = Field(alias="createdAt")
    updated_at: datetime = Field(alias="updatedAt")
    # Set while a cancel the caller asked for awaits Runway's confirmation (and kept after).
    cancel_requested_at: datetime | None = Field(default=None, alias="cancelRequestedAt")
    # Webhook attempts, oldest first (only in `GET /v1/tasks/{id}`, not in lists).
    webhook_deliveries: list[DeliveryView] | None = Field(default=None, alias="webhookDeliveries")
    # What happened to the job, oldest first (only in `GET /v1/tasks/{id}`, not in lists).
    timeline: list[TimelineEntry] | None = None


class TaskView(BaseModel):
    """A job in Runway's task shape (so SDK code behaves), plus the `bridge` object.

    Mapping (docs/architecture.md): QUEUED/SUBMITTING → PENDING; COPYING → RUNNING (SDK users never get
    expiring Runway URLs); SUCCEEDED → `output` holds presigned S3 URLs; bridge-only outcomes
    (SUBMISSION_UNKNOWN, TIMED_OUT) → FAILED with a `BRIDGE.*` failureCode.
    """

    model_config = ConfigDict(populate_by_name=True)

    id: str
    status: ViewStatus
    created_at: datetime = Field(alias="createdAt")
    progress: float | None = None
    output: list[str] | None = None
    failure: str | None = None
    failure_code: str | None = Field(default=None, alias="failureCode")
    # The SDK requires estimatedCost while unfinished and cost once finished (0 while unknown).
    estimated_cost: EstimatedCost | None = Field(default=None, alias="estimatedCost")
    cost: FinalCost | None = None
    bridge: BridgeInfo

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class TaskListPage(BaseModel):
    """One page of `GET /v1/tasks`, newest first; pass `nextCursor` back as `cursor` for more."""

    model_config = ConfigDict(populate_by_name=True)

    data: list[TaskView]
    next_cursor: str | None = Field(default=None, alias="nextCursor")

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class DeadLetterView(BaseModel):
    """A webhook delivery of yours that exhausted its attempts (`POST /v1/webhooks/redrive` sends
    it again)."""

    model_config = ConfigDict(populate_by_name=True)

    event_id: str = Field(alias="eventId")
    job_id: str = Field(alias="jobId")
    type: str
    reason: str | None = None
    dead_lettered_at: datetime | None = Field(default=None, alias="deadLetteredAt")


class DeadLetterList(BaseModel):
    """`GET /v1/webhooks/dead-letters`: your dead-lettered deliveries, oldest first (listing moves
    nothing)."""

    data: list[DeadLetterView]

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class ErrorBody(BaseModel):
    """Every error the bridge answers: a readable message and a machine code (Runway's shape)."""

    error: str
    code: str
