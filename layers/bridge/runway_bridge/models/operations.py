"""The Runway operations the bridge serves, each declared once (no I/O).

An operation is one `POST /v1/<name>` of Runway's API. Its entry here says everything the rest of
the code needs to know about it: the request model (models/runway.py) that validates its body, what
kind of output it makes, which body fields carry media inputs (and of which kinds), how long a
typical task takes (the poller's prior when the model family is unknown to it), how many output
seconds it counts against a tenant's day when the body does not say, how the `runway-bridge
generate` command builds a body from its arguments, and one valid body
(tests and sample events are checked against it).

Everything else reads `REGISTRY`: the API's routes and its OpenAPI document, the polling prior,
the tenant charge, the dev emulator, the CLI and the tests. Adding an operation is one entry here,
one route in template.yaml (a test compares the two) and one sample event in events/api/ (a test
checks it against the entry's sample body).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator

from runway_bridge.models.runway import (
    CharacterPerformanceRequest,
    FrameInterpolationRequest,
    ImageToVideoRequest,
    LipSyncRequest,
    MediaKind,
    RunwayModel,
    SoundEffectRequest,
    TextToVideoRequest,
    VideoToVideoRequest,
    VideoUpscaleRequest,
)

# What the task makes (the emulator answers a matching media file; add a kind there first).
OutputKind = Literal["video", "audio"]


@dataclass(frozen=True)
class InputField:
    """One body field that carries a media input as a URI. `kinds`: the media it may carry (its
    size cap and content type are checked against them for `s3://` inputs). `reference`: the field
    is `{"type": <kind>, "uri": ...}` and its `type` names the kind. `cli`: the `runway-bridge
    generate` arguments (`--image/--video/--audio`) that fill it, the first one given wins; None:
    its `kinds`, in order; (): the command leaves it out."""

    field: str
    kinds: tuple[MediaKind, ...]
    reference: bool = False
    cli: tuple[MediaKind, ...] | None = None

    @property
    def cli_sources(self) -> tuple[MediaKind, ...]:
        return self.kinds if self.cli is None else self.cli


@dataclass(frozen=True)
class InputUri:
    """A URI found in a body's input field, with the kinds of media it may be."""

    field: str
    uri: str
    kinds: tuple[MediaKind, ...]


@dataclass(frozen=True)
class CliDefaults:
    """How `runway-bridge generate <operation>` builds a body: `--prompt` is `promptText`,
    `--duration` is `duration`; `ratio`/`duration` here are sent when the user gives none (the
    media arguments fill the operation's `inputs`)."""

    model: str
    ratio: str | None = None
    duration: int | None = None


@dataclass(frozen=True)
class OperationSpec:
    name: str
    request_model: type[RunwayModel]
    output_kind: OutputKind
    # Typical seconds from submit to finish of a 5 s output, when the model family is unknown.
    typical_duration_s: float
    # Output seconds a job counts against its tenant's day when its body has no `duration`.
    default_output_seconds: int
    cli: CliDefaults
    # Every body field that carries a media input as a URI.
    inputs: tuple[InputField, ...] = field(default=(), kw_only=True)
    # One valid Runway body (no bridge fields): sample events and tests are checked against it.
    sample_body: Mapping[str, Any] = field(compare=False)
    summary: str = ""

    @property
    def path(self) -> str:
        return f"/v1/{self.name}"

    @property
    def models(self) -> tuple[str, ...]:
        return self.request_model.MODELS

    def input_uris(self, body: Mapping[str, Any]) -> list[InputUri]:
        """The input URIs present in a (validated) body, each with the kinds it may be."""
        found = []
        for entry in self.inputs:
            value = body.get(entry.field)
            if entry.reference and isinstance(value, Mapping):
                kind = value.get("type")
                kinds = (kind,) if kind in entry.kinds else entry.kinds
                value = value.get("uri")
            else:
                kinds = entry.kinds
            if isinstance(value, str):
                found.append(InputUri(entry.field, value, kinds))
        return found

    def map_input_uris(self, body: Mapping[str, Any], change: Callable[[str], str]) -> dict[str, Any]:
        """A copy of `body` with each input URI replaced by `change(uri)` (the rest untouched)."""
        changed = dict(body)
        for entry in self.inputs:
            value = changed.get(entry.field)
            if entry.reference and isinstance(value, Mapping) and isinstance(value.get("uri"), str):
                changed[entry.field] = {**value, "uri": change(value["uri"])}
            elif isinstance(value, str):
                changed[entry.field] = change(value)
        return changed


class OperationRegistry:
    """An ordered, checked set of operations (the first entry is listed first everywhere)."""

    def __init__(self, specs: tuple[OperationSpec, ...]) -> None:
        names = [spec.name for spec in specs]
        if len(set(names)) != len(names):
            raise ValueError(f"operation declared twice: {names}")
        for spec in specs:
            problem = _problem_with(spec)
            if problem:
                raise ValueError(f"{spec.name}: {problem}")
        self._specs: Mapping[str, OperationSpec] = MappingProxyType({spec.name: spec for spec in specs})

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._specs)

    @property
    def paths(self) -> frozenset[str]:
        return frozenset(spec.path for spec in self)

    def __getitem__(self, name: str) -> OperationSpec:
        return self._specs[name]

    def get(self, name: str) -> OperationSpec | None:
        return self._specs.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __iter__(self) -> Iterator[OperationSpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def with_operation(self, spec: OperationSpec) -> OperationRegistry:
        """A copy with `spec` added (or replacing the entry of the same name)."""
        return OperationRegistry((*(s for s in self if s.name != spec.name), spec))


def _problem_with(spec: OperationSpec) -> str | None:
    if not spec.name.isidentifier() or spec.name != spec.name.lower():
        return "the name must be a lower-case identifier (it is the path /v1/<name>)"
    if spec.typical_duration_s <= 0 or spec.default_output_seconds <= 0:
        return "durations must be positive"
    if spec.models and spec.cli.model not in spec.models:
        return f"the CLI's default model {spec.cli.model!r} is not one of {spec.models}"
    body_fields = {info.alias or name for name, info in spec.request_model.model_fields.items()}
    for entry in spec.inputs:
        if entry.field not in body_fields:
            return f"input {entry.field!r} is not a field of {spec.request_model.__name__}"
        if not entry.kinds or not set(entry.cli_sources) <= set(entry.kinds):
            return f"input {entry.field!r}: the CLI's arguments must be among its kinds"
    try:
        spec.request_model.model_validate(dict(spec.sample_body), context={"passthrough": False})
    except ValueError as exc:
        return f"the sample body is not valid: {exc}"
    return None


def _body(**fields: Any) -> Mapping[str, Any]:
    return MappingProxyType(fields)


REGISTRY: Final = OperationRegistry(
    (
        OperationSpec(
            name="image_to_video",
            request_model=ImageToVideoRequest,
            output_kind="video",
            typical_duration_s=70.0,
            default_output_seconds=5,
            cli=CliDefaults(model="gen4_turbo", ratio="1280:720", duration=5),
            inputs=(InputField("promptImage", ("image",)),),
            sample_body=_body(
                model="gen4_turbo",
                promptImage="https://example.com/first-frame.jpg",
                promptText="a slow pan across a misty valley",
                ratio="1280:720",
                duration=5,
            ),
            summary="A video from a first frame (and a prompt).",
        ),
        OperationSpec(
            name="text_to_video",
            request_model=TextToVideoRequest,
            output_kind="video",
            typical_duration_s=95.0,
            default_output_seconds=5,
            cli=CliDefaults(model="gen4.5", ratio="1280:720", duration=5),
            sample_body=_body(
                model="veo3",
                promptText="a paper boat drifting down a rain gutter",
                ratio="1280:720",
                duration=5,
            ),
            summary="A video from a prompt.",
        ),
        OperationSpec(
            name="video_to_video",
            request_model=VideoToVideoRequest,
            output_kind="video",
            typical_duration_s=110.0,
            default_output_seconds=10,
            cli=CliDefaults(model="gen4_aleph", ratio="1280:720"),
            inputs=(InputField("videoUri", ("video",)), InputField("promptVideo", ("video",), cli=())),
            sample_body=_body(
                model="gen4_aleph",
                videoUri="https://example.com/input.mp4",
                promptText="make it look like winter",
                ratio="1280:720",
            ),
            summary="A video transformed by a prompt.",
        ),
        OperationSpec(
            name="character_performance",
            request_model=CharacterPerformanceRequest,
            output_kind="video",
            typical_duration_s=60.0,
            default_output_seconds=10,
            cli=CliDefaults(model="act_two", ratio="1280:720"),
            inputs=(
                InputField("character", ("image", "video"), reference=True, cli=("image",)),
                InputField("reference", ("video",), reference=True),
            ),
            sample_body=_body(
                model="act_two",
                character={"type": "image", "uri": "https://example.com/character.png"},
                reference={"type": "video", "uri": "https://example.com/performance.mp4"},
                ratio="1280:720",
            ),
            summary="A character animated by a reference performance.",
        ),
        OperationSpec(
            name="lip_sync",
            request_model=LipSyncRequest,
            output_kind="video",
            typical_duration_s=60.0,
            default_output_seconds=10,
            cli=CliDefaults(model="gen4_turbo"),
            inputs=(InputField("input", ("video", "image")), InputField("audio", ("audio",))),
            sample_body=_body(
                model="gen4_turbo",
                input="https://example.com/face.mp4",
                audio="https://example.com/voice.mp3",
            ),
            summary="A face's lips moved to an audio track.",
        ),
        OperationSpec(
            name="video_upscale",
            request_model=VideoUpscaleRequest,
            output_kind="video",
            typical_duration_s=45.0,
            default_output_seconds=10,
            cli=CliDefaults(model="upscale_v1"),
            inputs=(InputField("videoUri", ("video",)),),
            sample_body=_body(model="upscale_v1", videoUri="https://example.com/low-res.mp4"),
            summary="A video at a higher resolution.",
        ),
        OperationSpec(
            name="frame_interpolation",
            request_model=FrameInterpolationRequest,
            output_kind="video",
            typical_duration_s=40.0,
            default_output_seconds=10,
            cli=CliDefaults(model="frame_interpolation_v1"),
            inputs=(InputField("videoUri", ("video",)),),
            sample_body=_body(model="frame_interpolation_v1", videoUri="https://example.com/clip.mp4"),
            summary="A video with frames interpolated.",
        ),
        OperationSpec(
            name="sound_effect",
            request_model=SoundEffectRequest,
            output_kind="audio",
            typical_duration_s=32.0,
            default_output_seconds=5,
            cli=CliDefaults(model="sound_effect_v1"),
            inputs=(InputField("videoUri", ("video",), cli=()),),
            sample_body=_body(model="sound_effect_v1", promptText="rain on a tin roof"),
            summary="A sound effect from a prompt (optionally for a video).",
        ),
    )
)

OPERATIONS: Final[tuple[str, ...]] = REGISTRY.names


def _known_operation(name: str) -> str:
    if name not in REGISTRY:
        raise ValueError(f"unknown operation {name!r}")
    return name


# An operation name (a key of REGISTRY); pydantic fields of this type refuse other names.
Operation = Annotated[str, AfterValidator(_known_operation)]


def validate_create_request(
    operation: str, body: Any, *, passthrough: bool = False, s3_inputs: bool = False
) -> RunwayModel:
    """Validate a create body for `operation`; raises :class:`pydantic.ValidationError`.
    `s3_inputs`: also take `s3://bucket/key` in input fields (the bridge only; Runway knows none)."""
    return REGISTRY[operation].request_model.model_validate(
        body, context={"passthrough": passthrough, "s3_inputs": s3_inputs}
    )
