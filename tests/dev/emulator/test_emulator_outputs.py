"""Outputs: real media at signed, expiring URLs; padding for big-copy benchmarks; Range reads."""

from __future__ import annotations

import io
import time
import wave

import av
import httpx

from runway_bridge_dev.emulator import RunwayEmulator
from tests.dev.emulator.conftest import create_task, wait_for_task


def _succeeded_output(api: httpx.Client, operation: str = "text_to_video", **body: object) -> str:
    final, _ = wait_for_task(api, create_task(api, operation, **body))
    assert final["status"] == "SUCCEEDED"
    url: str = final["output"][0]
    return url


def test_video_output_is_an_h264_mp4_that_decodes(api: httpx.Client) -> None:
    response = httpx.get(_succeeded_output(api))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "video/mp4"
    assert int(response.headers["Content-Length"]) == len(response.content)
    with av.open(io.BytesIO(response.content)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.width <= 320
        assert stream.height <= 180
        frame = next(container.decode(video=0))
        assert frame.width == stream.width
        assert 0.5 <= float(container.duration or 0) / av.time_base <= 2.5


def test_sound_effect_output_is_a_wav(api: httpx.Client) -> None:
    url = _succeeded_output(api, "sound_effect", model="sound_effect_v1", promptText="thunder")
    assert url.split("?")[0].endswith(".wav")
    response = httpx.get(url)
    assert response.headers["Content-Type"] == "audio/wav"
    assert int(response.headers["Content-Length"]) == len(response.content)
    with wave.open(io.BytesIO(response.content)) as reader:
        assert reader.getnframes() > 0
        assert reader.getframerate() > 0
        assert len(reader.readframes(100)) == 100 * reader.getsampwidth() * reader.getnchannels()


def test_padding_grows_the_mp4_which_still_decodes(emulator: RunwayEmulator, api: httpx.Client) -> None:
    url = _succeeded_output(api)
    plain = httpx.get(url).content
    emulator.update(output_padding_bytes=3 * 1024 * 1024 + 5)
    padded = httpx.get(url)
    assert int(padded.headers["Content-Length"]) == len(plain) + 3 * 1024 * 1024 + 5
    assert len(padded.content) == len(plain) + 3 * 1024 * 1024 + 5
    assert padded.content.startswith(plain)
    # The tail is one top-level `free` box covering exactly the padding.
    box = padded.content[len(plain) :]
    assert int.from_bytes(box[:4], "big") == len(box)
    assert box[4:8] == b"free"
    with av.open(io.BytesIO(padded.content)) as container:
        assert next(container.decode(video=0)) is not None


def test_range_requests_return_the_matching_slice(emulator: RunwayEmulator, api: httpx.Client) -> None:
    emulator.update(output_padding_bytes=100_000)
    url = _succeeded_output(api)
    whole = httpx.get(url).content
    part = httpx.get(url, headers={"Range": "bytes=9000-9499"})
    assert part.status_code == 206
    assert part.content == whole[9000:9500]
    assert part.headers["Content-Range"] == f"bytes 9000-9499/{len(whole)}"
    tail = httpx.get(url, headers={"Range": "bytes=-10"})
    assert tail.content == whole[-10:]
    assert httpx.get(url, headers={"Range": f"bytes={len(whole)}-"}).status_code == 416
    head = httpx.head(url)
    assert head.status_code == 200
    assert int(head.headers["Content-Length"]) == len(whole)


def test_output_urls_expire_and_a_fresh_get_gives_working_ones(
    emulator: RunwayEmulator, api: httpx.Client
) -> None:
    final, _ = wait_for_task(api, create_task(api))
    speed, ttl = emulator.config.clock_speed, emulator.config.output_url_ttl_s
    # The emulator's clock is held almost still while a URL must work and run fast while it must
    # expire, so a slow machine cannot turn either step around.
    emulator.update(output_url_ttl_s=10.0, clock_speed=0.001)  # 10 emulated s = 10,000 s real
    try:
        old_url = api.get(f"/v1/tasks/{final['id']}").json()["output"][0]
        assert httpx.get(old_url).status_code == 200
        emulator.update(clock_speed=10_000.0)  # 10 emulated s = 1 ms real
        time.sleep(0.05)
        emulator.update(clock_speed=0.001)
        expired = httpx.get(old_url)
        assert expired.status_code == 403
        fresh_url = api.get(f"/v1/tasks/{final['id']}").json()["output"][0]
        assert fresh_url != old_url
        fresh = httpx.get(fresh_url)
        assert fresh.status_code == 200
        assert fresh.headers["Content-Type"] == "video/mp4"
    finally:
        emulator.update(clock_speed=speed, output_url_ttl_s=ttl)


def test_tampered_output_url_is_403(api: httpx.Client) -> None:
    url = _succeeded_output(api)
    base, _, query = url.partition("?")
    forged_expiry = query.replace("expires=", "expires=9")
    assert httpx.get(f"{base}?{forged_expiry}").status_code == 403
    assert httpx.get(base).status_code == 403
