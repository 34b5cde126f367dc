"""The official `runwayml` SDK (unmodified; only api_key and base_url set) against the emulator:
creates, retrieves and deletes for each operation, uploads, every task status the SDK knows, and
its own `wait_for_task_output` loop down to a decodable H.264 video.

The SDK's response models do not validate (they are built without checks), so every shape is
proved twice: the variant class the SDK picked, and `Variant.model_validate` of the raw JSON.
"""

from __future__ import annotations

import io
import struct
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import av
import httpx
import pytest
import runwayml
from runwayml import RunwayML
from runwayml.types.task_retrieve_response import (
    Cancelled,
    Failed,
    Pending,
    Running,
    Succeeded,
    Throttled,
)

from runway_bridge.models.operations import OPERATIONS, REGISTRY
from runway_bridge_dev.emulator import RunwayEmulator

IMAGE = "https://media.example.com/input.png"
VIDEO = "https://media.example.com/input.mp4"

# Spec-valid arguments. The SDK's type hints name other models (it follows the live API), and
# Python does not enforce Literals: what matters is the JSON the SDK sends.
CREATES: dict[str, Callable[[RunwayML], Any]] = {
    "image_to_video": lambda sdk: sdk.image_to_video.create(
        model="gen4_turbo", prompt_image=IMAGE, ratio="1280:720", duration=5, prompt_text="waves"
    ),
    "text_to_video": lambda sdk: sdk.text_to_video.create(
        model="gen4.5", prompt_text="a lighthouse at dusk", ratio="1280:720", duration=5
    ),
    "video_to_video": lambda sdk: sdk.video_to_video.create(
        model="gen4_aleph",  # type: ignore[call-overload]
        prompt_video=VIDEO,
        prompt_text="make it snow",
    ),
    "character_performance": lambda sdk: sdk.character_performance.create(
        model="act_two", character={"type": "image", "uri": IMAGE}, reference={"type": "video", "uri": VIDEO}
    ),
    "video_upscale": lambda sdk: sdk.video_upscale.create(
        model="upscale_v1",  # type: ignore[call-overload]
        video_uri=VIDEO,
    ),
    "sound_effect": lambda sdk: sdk.sound_effect.create(
        model="sound_effect_v1",  # type: ignore[call-overload]
        prompt_text="a door creaks open",
    ),
}


def raw_task(sdk: RunwayML, task_id: str) -> dict[str, Any]:
    """The task JSON exactly as the emulator sent it."""
    response = sdk.tasks.with_raw_response.retrieve(task_id)
    body: dict[str, Any] = response.http_response.json()
    return body


def retrieve_until(sdk: RunwayML, task_id: str, status: str, timeout_s: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        task = sdk.tasks.retrieve(task_id)
        if task.status == status:
            return task
        assert time.monotonic() < deadline, f"task {task_id} never reached {status}; last {task.status}"
        time.sleep(0.02)


def tiny_png() -> bytes:
    """A valid 1x1 PNG, so the upload is a real image file."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x80\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def create_with_sdk(sdk: RunwayML, operation: str) -> Any:
    """The SDK's own method where it has one; otherwise its generic POST with the registry's sample."""
    if operation in CREATES:
        return CREATES[operation](sdk)
    answer = sdk.post(
        REGISTRY[operation].path, body=dict(REGISTRY[operation].sample_body), cast_to=httpx.Response
    )
    return SimpleNamespace(id=answer.json()["id"])


def test_the_sdk_table_names_only_registry_operations() -> None:
    assert set(CREATES) <= set(OPERATIONS)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_sdk_creates_retrieves_and_deletes(operation: str, sdk: RunwayML, emulator: RunwayEmulator) -> None:
    created = create_with_sdk(sdk, operation)

    task = sdk.tasks.retrieve(created.id)
    assert task.id == created.id
    assert isinstance(task, Pending | Running)
    type(task).model_validate(raw_task(sdk, created.id))

    sdk.tasks.delete(created.id)
    cancelled = sdk.tasks.retrieve(created.id)
    assert isinstance(cancelled, Cancelled)
    Cancelled.model_validate(raw_task(sdk, created.id))

    # A finished task is deleted for good.
    sdk.tasks.delete(created.id)
    with pytest.raises(runwayml.NotFoundError):
        sdk.tasks.retrieve(created.id)
    counters = emulator.counters()
    assert counters[f"POST /v1/{operation}"] == 1
    assert counters["tasks_created"] == 1


def test_sdk_sends_what_the_spec_names(sdk: RunwayML, emulator: RunwayEmulator) -> None:
    # The emulator validates strictly against the spec: an unknown field is a 400 the SDK raises.
    with pytest.raises(runwayml.BadRequestError) as raised:
        sdk.text_to_video.create(
            model="gen4.5",
            prompt_text="a lighthouse",
            ratio="1280:720",
            duration=5,
            extra_body={"notASpecField": 1},
        )
    assert "notASpecField" in str(raised.value)
    assert emulator.counters()["tasks_created"] == 0


def test_sdk_ephemeral_upload_gives_a_uri_usable_as_input(
    sdk: RunwayML, emulator: RunwayEmulator, tmp_path: Path
) -> None:
    image = tmp_path / "face.png"
    image.write_bytes(tiny_png())

    from_path = sdk.uploads.create_ephemeral(file=image)
    from_bytes = sdk.uploads.create_ephemeral(file=("clip.mp4", b"\x00\x00\x00\x18ftypisom", "video/mp4"))

    assert from_path.uri.startswith("runway://")
    assert from_bytes.uri.startswith("runway://")
    image_task = sdk.image_to_video.create(model="gen4_turbo", prompt_image=from_path.uri, ratio="960:960")
    upscale_task = sdk.video_upscale.create(
        model="upscale_v1",  # type: ignore[call-overload]
        video_uri=from_bytes.uri,
    )
    assert sdk.tasks.retrieve(image_task.id).id == image_task.id
    assert sdk.tasks.retrieve(upscale_task.id).id == upscale_task.id
    assert emulator.counters()["POST /v1/uploads"] == 2
    # A made-up runway:// URI is refused, as Runway refuses URIs that are not your uploads.
    with pytest.raises(runwayml.BadRequestError):
        sdk.image_to_video.create(model="gen4_turbo", prompt_image="runway://not-an-upload", ratio="960:960")


def test_every_task_status_parses_as_its_sdk_variant(sdk: RunwayML, emulator: RunwayEmulator) -> None:
    # One slot per model, 2 s gen4.5 tasks: the second gen4.5 task waits THROTTLED. The clock
    # crawls (0.1x) until PENDING is seen, so a loaded machine cannot miss it, then runs at 2x.
    emulator.update(concurrency_per_model=1, durations={"gen4.5": 2.0}, clock_speed=0.1)
    create = CREATES["text_to_video"]
    first = create(sdk)
    pending = sdk.tasks.retrieve(first.id)
    second = create(sdk)
    failing = sdk.text_to_video.create(
        model="veo3.1", prompt_text="[fail:SAFETY.INPUT.TEXT] something", ratio="1280:720"
    )
    emulator.update(clock_speed=2.0)

    seen = {
        "PENDING": pending,
        "RUNNING": retrieve_until(sdk, first.id, "RUNNING"),
        "THROTTLED": retrieve_until(sdk, second.id, "THROTTLED"),
        "FAILED": retrieve_until(sdk, failing.id, "FAILED"),
    }
    sdk.tasks.delete(second.id)
    seen["CANCELLED"] = sdk.tasks.retrieve(second.id)
    seen["SUCCEEDED"] = retrieve_until(sdk, first.id, "SUCCEEDED")

    variants = {
        "PENDING": Pending,
        "THROTTLED": Throttled,
        "RUNNING": Running,
        "SUCCEEDED": Succeeded,
        "FAILED": Failed,
        "CANCELLED": Cancelled,
    }
    for status, variant in variants.items():
        task = seen[status]
        # The SDK returns its own subclasses (e.g. AwaitablePending) of the variant classes.
        assert isinstance(task, variant), status
        assert task.status == status
        # The SDK's objects are built without validation; validating their data proves the shape.
        variant.model_validate(task.model_dump(by_alias=True))
    assert seen["FAILED"].failure_code == "SAFETY.INPUT.TEXT"
    assert 0.0 <= seen["RUNNING"].progress <= 1.0
    assert seen["SUCCEEDED"].output
    Succeeded.model_validate(raw_task(sdk, first.id))


@pytest.mark.slow
def test_sdk_wait_for_task_output_returns_a_decodable_h264_video(
    sdk: RunwayML, emulator: RunwayEmulator
) -> None:
    # The SDK sleeps 6 +/- 1.5 s before each poll; at 20x the task is done before the first one.
    emulator.update(clock_speed=20.0)

    started = time.monotonic()
    task = CREATES["text_to_video"](sdk).wait_for_task_output(timeout=60)
    waited = time.monotonic() - started

    assert isinstance(task, Succeeded)
    assert waited < 9.0  # one SDK sleep (at most 7.5 s), then done
    assert emulator.counters()["GET /v1/tasks/{id}"] == 1
    video = httpx.get(task.output[0], timeout=10)
    assert video.status_code == 200
    with av.open(io.BytesIO(video.content), mode="r") as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        frame = next(container.decode(stream))
        assert frame.width > 0
        assert frame.height > 0
