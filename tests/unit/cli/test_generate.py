"""`generate`: the body the bridge gets, and local files checked by their bytes before any upload."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from runway_bridge.models.api import bridge_field_names
from runway_bridge.models.operations import REGISTRY
from runway_bridge_dev.client_cli import sniff
from tests.unit.cli.conftest import FakeBridge, Result

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
MP4 = b"\x00\x00\x00\x20ftypisom" + b"\x00" * 40
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 40


@pytest.fixture
def accepting(bridge: FakeBridge) -> FakeBridge:
    bridge.on("POST /v1/character_performance", lambda _r: httpx.Response(200, json={"id": "job-1"}))
    bridge.on("POST /v1/image_to_video", lambda _r: httpx.Response(200, json={"id": "job-2"}))
    uploads = iter(range(100))

    def upload(_request: httpx.Request) -> httpx.Response:
        number = next(uploads)
        body = {
            "uploadUrl": "http://bridge.test/_uploads/u",
            "fields": {},
            "runwayUri": f"runway://u{number}",
        }
        return httpx.Response(200, json=body)

    bridge.on("POST /v1/uploads", upload)
    bridge.on("POST /_uploads/u", lambda _r: httpx.Response(204))
    return bridge


def test_character_performance_reference_is_the_bridges_not_runways(
    accepting: FakeBridge, cli: Callable[..., Result], tmp_path: Path
) -> None:
    character, performance = tmp_path / "me.png", tmp_path / "acting.mp4"
    character.write_bytes(PNG)
    performance.write_bytes(MP4)
    result = cli(
        "generate",
        "character_performance",
        "--image",
        str(character),
        "--video",
        str(performance),
        "--reference",
        "take-7",
    )
    assert result.code == 0, result.err
    [create] = accepting.sent("POST /v1/character_performance")
    body = json.loads(create.content)
    assert body["bridgeReference"] == "take-7"
    assert body["reference"] == {"type": "video", "uri": "runway://u1"}
    assert body["character"] == {"type": "image", "uri": "runway://u0"}
    # What the bridge forwards to Runway validates against Runway's model of the operation.
    names = bridge_field_names("character_performance")
    REGISTRY["character_performance"].request_model.model_validate(
        {k: v for k, v in body.items() if k not in names}
    )


def test_a_text_file_given_as_image_is_refused_before_any_upload(
    accepting: FakeBridge, cli: Callable[..., Result], tmp_path: Path
) -> None:
    notes, performance = tmp_path / "notes.png", tmp_path / "acting.mp4"
    notes.write_text("just some text, named like an image\n")
    performance.write_bytes(MP4)
    result = cli("generate", "character_performance", "--image", str(notes), "--video", str(performance))
    assert result.code == 2
    assert result.err.count("\n") == 1
    assert "not an image" in result.err
    assert accepting.requests == []  # nothing uploaded, nothing created


def test_a_video_given_as_image_is_refused(
    accepting: FakeBridge, cli: Callable[..., Result], tmp_path: Path
) -> None:
    clip = tmp_path / "clip.png"
    clip.write_bytes(MP4)
    result = cli("generate", "image_to_video", "--image", str(clip))
    assert result.code == 2
    assert "video/mp4" in result.err
    assert accepting.requests == []


def test_the_upload_carries_the_sniffed_content_type(
    accepting: FakeBridge, cli: Callable[..., Result], tmp_path: Path
) -> None:
    picture = tmp_path / "picture-without-extension"
    picture.write_bytes(PNG)
    result = cli("generate", "image_to_video", "--image", str(picture))
    assert result.code == 0, result.err
    [upload] = accepting.sent("POST /_uploads/u")
    assert b"Content-Type: image/png" in upload.content


@pytest.mark.parametrize(
    ("head", "content_type"),
    [
        (PNG, "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (MP4, "video/mp4"),
        (b"\x1a\x45\xdf\xa3\x01\x00", "video/webm"),
        (WAV, "audio/wav"),
        (b"ID3\x04\x00", "audio/mpeg"),
        (b"hello world", None),
    ],
)
def test_sniff(head: bytes, content_type: str | None) -> None:
    assert sniff(head) == content_type
