"""Pydantic models of Runway's API (spec `runway-openapi.yaml`, version 2024-11-06) plus the
additions the live API and the official SDK use beyond that spec.

No I/O here. Request models validate strictly by default; validating with
``context={"passthrough": True}`` (see :func:`validate_create_request`) keeps models, enum values
and fields the spec does not know, so the bridge never blocks what Runway itself accepts.
``context={"s3_inputs": True}`` (the bridge's own validation only, never the emulator's: Runway
knows no ``s3://``) also accepts ``s3://bucket/key`` in every input URI field; the bridge checks
the object and turns it into a URL Runway can fetch (logic/submission/inputs.py).
Which operation uses which request model is declared in models/operations.py.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, ClassVar, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationInfo,
    field_validator,
    model_validator,
)

RUNWAY_API_VERSION: Final = "2024-11-06"
PROMPT_TEXT_MAX_LENGTH: Final = 1000
# data: URIs are accepted for images up to this size (Runway documents 5 MB).
DATA_URI_MAX_LENGTH: Final = 5 * 1024 * 1024 * 4 // 3 + 1024

RATIOS: Final = ("1280:720", "1584:672", "1104:832", "720:1280", "832:1104", "960:960")
DURATIONS: Final = (5, 10)

UriKind = Literal["https", "runway", "data"]
HTTPS_OR_RUNWAY: Final[tuple[UriKind, ...]] = ("https", "runway")
ANY_URI_KIND: Final[tuple[UriKind, ...]] = ("https", "runway", "data")

# What an input is made of, for the size caps and content types Runway enforces per kind.
MediaKind = Literal["image", "video", "audio"]
# Runway's size caps for an input it fetches from a URL (its "API Input Parameters" page: image
# 16 MB, video 32 MB, audio 32 MB), read as decimal megabytes so a cap never lets past what
# Runway refuses. `s3://` inputs are sent as presigned URLs, so these caps hold for them.
URL_INPUT_MAX_BYTES: Final[dict[MediaKind, int]] = {
    "image": 16_000_000,
    "video": 32_000_000,
    "audio": 32_000_000,
}

# `s3://bucket/key`: a bucket name as S3 spells it (3-63 lower-case letters, digits, dots, hyphens)
# and a non-empty key.
S3_URI_PATTERN: Final = r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/[\s\S]+"
_S3_URI: Final = re.compile(S3_URI_PATTERN + "$")


def is_passthrough(info: ValidationInfo) -> bool:
    return bool(isinstance(info.context, dict) and info.context.get("passthrough"))


def accepts_s3_inputs(info: ValidationInfo | None) -> bool:
    """True when the bridge validates (its context says so): only it can resolve `s3://`."""
    return bool(info is not None and isinstance(info.context, dict) and info.context.get("s3_inputs"))


def split_s3_uri(value: str) -> tuple[str, str] | None:
    """(bucket, key) of an `s3://bucket/key` URI; None for anything else."""
    if not _S3_URI.match(value):
        return None
    bucket, _, key = value.removeprefix("s3://").partition("/")
    return bucket, key


def check_uri(value: str, allowed: tuple[UriKind, ...], info: ValidationInfo | None = None) -> str:
    """Refuse URIs of a kind the field does not take (the spec names them per field). With the
    bridge's context (`s3_inputs`), an `s3://bucket/key` is taken in any input field too."""
    if value.startswith("s3://") and accepts_s3_inputs(info):
        if split_s3_uri(value) is None:
            raise ValueError("must be s3://<bucket>/<key> with a valid bucket name and a key")
        return value
    kinds = {
        "https": value.startswith("https://") and len(value) > len("https://"),
        "runway": value.startswith("runway://") and len(value) > len("runway://"),
        "data": value.startswith("data:") and "," in value,
    }
    if not any(kinds[kind] for kind in allowed):
        names = {"https": "an HTTPS URL", "runway": "a runway:// URI", "data": "a data: URI"}
        expected = " or ".join(names[kind] for kind in allowed)
        if accepts_s3_inputs(info):
            expected += " or an s3://bucket/key URI"
        raise ValueError(f"must be {expected}")
    if kinds["data"] and len(value) > DATA_URI_MAX_LENGTH:
        raise ValueError("data: URI is larger than 5 MB")
    if kinds["https"] and any(ch.isspace() for ch in value):
        raise ValueError("URL must not contain whitespace")
    return value


# The same rules as `check_uri`, as JSON-schema patterns for the OpenAPI document.
_URI_PATTERNS: Final[dict[UriKind, str]] = {
    "https": r"https://\S+$",
    "runway": r"runway://[\s\S]",
    "data": r"data:[^,]*,",
}


def uri_pattern(allowed: tuple[UriKind, ...], *, s3: bool = False) -> str:
    """The JSON-schema pattern of a URI field of `allowed` kinds (`s3`: with `s3://` inputs)."""
    return (
        "^("
        + "|".join([*(_URI_PATTERNS[kind] for kind in allowed), *([S3_URI_PATTERN + "$"] if s3 else [])])
        + ")"
    )


# The patterns request models' documents carry, each with its `s3://` variant: the bridge's
# OpenAPI document (models/openapi.py) shows the variant, as the bridge accepts it.
URI_PATTERNS_WITH_S3: Final[dict[str, str]] = {
    uri_pattern(allowed): uri_pattern(allowed, s3=True) for allowed in (HTTPS_OR_RUNWAY, ANY_URI_KIND)
}


def uri_field(allowed: tuple[UriKind, ...], *, alias: str | None = None, optional: bool = False) -> Any:
    """A URI field of `allowed` kinds: its document carries the pattern `check_uri` enforces."""
    pattern = uri_pattern(allowed)
    extra: dict[str, Any] = {"pattern": pattern}
    if "data" in allowed:
        extra["maxLength"] = DATA_URI_MAX_LENGTH
    if optional:
        return Field(default=None, alias=alias, json_schema_extra=extra)
    return Field(alias=alias, json_schema_extra=extra)


def check_enum(value: Any, allowed: tuple[Any, ...], info: ValidationInfo) -> Any:
    """Enum check that passthrough mode relaxes (the live API knows more values than the spec)."""
    if value not in allowed and not is_passthrough(info):
        options = ", ".join(repr(option) for option in allowed)
        raise ValueError(f"must be one of {options} (or enable passthrough for values the spec lacks)")
    return value


class RunwayModel(BaseModel):
    """Base of request models: unknown fields are refused unless passthrough is on."""

    # strict: "5" is not a duration and 5 is not a prompt; the spec's types hold exactly.
    model_config = ConfigDict(extra="allow", populate_by_name=True, strict=True)
    # The model names the spec lists for this operation (checked unless passthrough).
    MODELS: ClassVar[tuple[str, ...]] = ()

    @field_validator("model", mode="after", check_fields=False)
    @classmethod
    def _known_model(cls, value: str, info: ValidationInfo) -> str:
        return check_enum(value, cls.MODELS, info) if cls.MODELS else value

    @model_validator(mode="after")
    def _refuse_unknown_fields(self, info: ValidationInfo) -> RunwayModel:
        if self.model_extra and not is_passthrough(info):
            names = ", ".join(sorted(self.model_extra))
            raise ValueError(
                f"unknown field(s) {names} (enable passthrough to forward fields the spec lacks)"
            )
        return self

    def to_runway_json(self) -> dict[str, Any]:
        """The JSON body Runway receives: aliases, no unset optionals, extras kept."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


PromptText = Annotated[str, Field(min_length=1, max_length=PROMPT_TEXT_MAX_LENGTH, alias="promptText")]


class _RatioMixin(RunwayModel):
    ratio: str | None = Field(default=None, json_schema_extra={"enum": list(RATIOS)})

    @field_validator("ratio")
    @classmethod
    def _ratio(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else check_enum(value, RATIOS, info)


class _DurationMixin(RunwayModel):
    duration: int | None = Field(default=None, json_schema_extra={"enum": list(DURATIONS)})

    @field_validator("duration")
    @classmethod
    def _duration(cls, value: int | None, info: ValidationInfo) -> int | None:
        return None if value is None else check_enum(value, DURATIONS, info)


def _model_field(models: tuple[str, ...]) -> Any:
    return Field(json_schema_extra={"enum": list(models)})


class ImageToVideoRequest(_RatioMixin, _DurationMixin):
    MODELS: ClassVar[tuple[str, ...]] = ("gen4", "gen4_turbo", "gen4.5", "gen4_aleph")
    model: str = _model_field(MODELS)
    prompt_image: str = uri_field(ANY_URI_KIND, alias="promptImage")
    prompt_text: str | None = Field(default=None, alias="promptText", max_length=PROMPT_TEXT_MAX_LENGTH)

    @field_validator("prompt_image")
    @classmethod
    def _prompt_image(cls, value: str, info: ValidationInfo) -> str:
        return check_uri(value, ANY_URI_KIND, info)


class TextToVideoRequest(_RatioMixin, _DurationMixin):
    MODELS: ClassVar[tuple[str, ...]] = ("gen4.5", "veo3.1", "veo3.1_fast", "veo3")
    model: str = _model_field(MODELS)
    prompt_text: PromptText


class VideoToVideoRequest(_RatioMixin):
    """The spec names the input `promptVideo`; the SDK also sends `videoUri`. Either is accepted,
    and the one the caller used is forwarded unchanged."""

    # The document says what `_one_video` enforces: one of the two names is required.
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": [name], "properties": {name: {"type": "string"}}}
                for name in ("promptVideo", "videoUri")
            ]
        }
    )
    MODELS: ClassVar[tuple[str, ...]] = ("gen4_aleph",)
    model: str = _model_field(MODELS)
    prompt_video: str | None = uri_field(HTTPS_OR_RUNWAY, alias="promptVideo", optional=True)
    video_uri: str | None = uri_field(HTTPS_OR_RUNWAY, alias="videoUri", optional=True)
    prompt_text: PromptText

    @field_validator("prompt_video", "video_uri")
    @classmethod
    def _video(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else check_uri(value, HTTPS_OR_RUNWAY, info)

    @model_validator(mode="after")
    def _one_video(self) -> VideoToVideoRequest:
        if self.prompt_video is None and self.video_uri is None:
            raise ValueError("promptVideo is required")
        return self


class MediaReference(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    type: Literal["image", "video"]
    uri: str = uri_field(HTTPS_OR_RUNWAY)

    @field_validator("uri")
    @classmethod
    def _uri(cls, value: str, info: ValidationInfo) -> str:
        return check_uri(value, HTTPS_OR_RUNWAY, info)


class CharacterPerformanceRequest(_RatioMixin):
    MODELS: ClassVar[tuple[str, ...]] = ("act_two",)
    model: str = _model_field(MODELS)
    character: MediaReference
    reference: MediaReference


class LipSyncRequest(RunwayModel):
    MODELS: ClassVar[tuple[str, ...]] = ("gen4", "gen4_turbo")
    model: str = _model_field(MODELS)
    input: str = uri_field(HTTPS_OR_RUNWAY)
    audio: str = uri_field(HTTPS_OR_RUNWAY)

    @field_validator("input", "audio")
    @classmethod
    def _media(cls, value: str, info: ValidationInfo) -> str:
        return check_uri(value, HTTPS_OR_RUNWAY, info)


class _VideoInputRequest(RunwayModel):
    """Operations whose only input is one video (`videoUri`, HTTPS or runway://)."""

    video_uri: str = uri_field(HTTPS_OR_RUNWAY, alias="videoUri")

    @field_validator("video_uri")
    @classmethod
    def _video(cls, value: str, info: ValidationInfo) -> str:
        return check_uri(value, HTTPS_OR_RUNWAY, info)


class VideoUpscaleRequest(_VideoInputRequest):
    MODELS: ClassVar[tuple[str, ...]] = ("upscale_v1",)
    model: str = _model_field(MODELS)


class FrameInterpolationRequest(_VideoInputRequest):
    MODELS: ClassVar[tuple[str, ...]] = ("frame_interpolation_v1",)
    model: str = _model_field(MODELS)


class SoundEffectRequest(RunwayModel):
    MODELS: ClassVar[tuple[str, ...]] = ("sound_effect_v1",)
    model: str = _model_field(MODELS)
    prompt_text: PromptText
    video_uri: str | None = uri_field(HTTPS_OR_RUNWAY, alias="videoUri", optional=True)
    duration: int | None = Field(default=None, ge=1)

    @field_validator("video_uri")
    @classmethod
    def _video(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else check_uri(value, HTTPS_OR_RUNWAY, info)


# --- Responses -------------------------------------------------------------------------------


class TaskCreatedResponse(BaseModel):
    id: str


class Cost(BaseModel):
    model_config = ConfigDict(extra="allow")
    credits: float


class _TaskBase(BaseModel):
    """Fields every task carries. Extra fields Runway adds later are kept, never a crash."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    id: str
    created_at: datetime | None = Field(default=None, alias="createdAt")
    estimated_cost: Cost | None = Field(default=None, alias="estimatedCost")
    cost: Cost | None = None

    @property
    def is_terminal(self) -> bool:
        return False

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class PendingTask(_TaskBase):
    status: Literal["PENDING"] = "PENDING"


class ThrottledTask(_TaskBase):
    status: Literal["THROTTLED"] = "THROTTLED"


class RunningTask(_TaskBase):
    """RUNNING (live API) and PROCESSING (the spec's name) are both in progress."""

    status: Literal["RUNNING", "PROCESSING"] = "RUNNING"
    progress: float | None = Field(default=None, ge=0.0, le=1.0)


class SucceededTask(_TaskBase):
    status: Literal["SUCCEEDED"] = "SUCCEEDED"
    output: list[str] = Field(default_factory=list)

    @property
    def is_terminal(self) -> bool:
        return True


class FailedTask(_TaskBase):
    status: Literal["FAILED"] = "FAILED"
    failure: str = "unknown failure"
    failure_code: str | None = Field(default=None, alias="failureCode")

    @property
    def is_terminal(self) -> bool:
        return True

    @property
    def user_may_retry(self) -> bool:
        """`SAFETY.*` failures are final; `INTERNAL.*` (and unknown codes) may be retried by the user."""
        return not (self.failure_code or "").startswith("SAFETY.")


class CancelledTask(_TaskBase):
    status: Literal["CANCELLED"] = "CANCELLED"

    @property
    def is_terminal(self) -> bool:
        return True


class UnknownStatusTask(_TaskBase):
    """A status this code does not know yet: kept (and treated as still in progress), not a crash."""

    status: str


KNOWN_STATUSES: Final = ("PENDING", "THROTTLED", "RUNNING", "PROCESSING", "SUCCEEDED", "FAILED", "CANCELLED")
TERMINAL_STATUSES: Final = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})


def _task_tag(value: Any) -> str:
    status = value.get("status") if isinstance(value, dict) else getattr(value, "status", None)
    if status == "PROCESSING":
        return "RUNNING"
    return status if status in KNOWN_STATUSES else "UNKNOWN"


Task = Annotated[
    Annotated[PendingTask, Tag("PENDING")]
    | Annotated[ThrottledTask, Tag("THROTTLED")]
    | Annotated[RunningTask, Tag("RUNNING")]
    | Annotated[SucceededTask, Tag("SUCCEEDED")]
    | Annotated[FailedTask, Tag("FAILED")]
    | Annotated[CancelledTask, Tag("CANCELLED")]
    | Annotated[UnknownStatusTask, Tag("UNKNOWN")],
    Discriminator(_task_tag),
]
TASK_ADAPTER: Final[TypeAdapter[Task]] = TypeAdapter(Task)


def parse_task(data: Any) -> Task:
    """Parse a task body; the variant follows `status`, unknown statuses land in UnknownStatusTask."""
    return TASK_ADAPTER.validate_python(data)


# --- Uploads -------------------------------------------------------------------------------


class UploadRequest(BaseModel):
    """The SDK sends `{"filename", "type": "ephemeral"}`; the spec only requires `filename`."""

    model_config = ConfigDict(extra="allow")
    filename: str = Field(min_length=1, max_length=255)
    type: Literal["ephemeral"] | None = None

    @field_validator("filename")
    @classmethod
    def _filename(cls, value: str) -> str:
        if "/" in value or "\\" in value or "." not in value.strip(".") or value.startswith("."):
            raise ValueError("filename must be a plain file name with a media extension")
        return value


class UploadResponse(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)
    id: str | None = None
    upload_url: str = Field(alias="uploadUrl")
    fields: dict[str, str] = Field(default_factory=dict)
    runway_uri: str = Field(alias="runwayUri")


# --- Errors --------------------------------------------------------------------------------


class ErrorResponse(BaseModel):
    model_config = ConfigDict(extra="allow")
    error: str
    code: str | None = None


def describe_validation_error(exc: Any) -> str:
    """One readable line from a pydantic ValidationError: `field: message; field: message`."""
    parts = []
    for error in exc.errors(include_url=False):
        location = ".".join(str(part) for part in error.get("loc", ()) if part != "__root__")
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{location}: {message}" if location else message)
    return "; ".join(parts) or "invalid request body"
