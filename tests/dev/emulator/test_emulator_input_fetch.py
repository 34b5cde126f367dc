"""`fetch_inputs`: the emulator takes loopback input URLs (the local stack's presigned GETs on moto)
and fetches each at create as Runway would, refusing what it cannot fetch; by default it keeps
Runway's rules (HTTPS only, and no `s3://`)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from runway_bridge_dev.emulator import EmulatorConfig, RunwayEmulator
from tests.dev.emulator.conftest import FAST_CLOCK, api_client

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200


class _Media(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/frame.png"):
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(PNG)))
            self.end_headers()
            self.wfile.write(PNG)
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def media_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Media)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def fetching() -> Iterator[RunwayEmulator]:
    with RunwayEmulator(EmulatorConfig(seed=7, clock_speed=FAST_CLOCK, fetch_inputs=True)) as running:
        yield running


def _image_body(uri: str) -> dict[str, str]:
    return {"model": "gen4_turbo", "promptImage": uri, "promptText": "a pan"}


def test_a_loopback_input_is_fetched_at_create_and_recorded(fetching: RunwayEmulator, media_url: str) -> None:
    url = f"{media_url}/frame.png?X-Amz-Signature=abc"
    with api_client(fetching) as api:
        answer = api.post("/v1/image_to_video", json=_image_body(url))
        assert answer.status_code == 200, answer.text
    [task] = fetching.tasks()
    assert task["id"] == answer.json()["id"]
    assert task["inputsFetched"] == [
        {"field": "promptImage", "url": url, "status": 200, "contentType": "image/png", "bytesRead": len(PNG)}
    ]


def test_an_input_it_cannot_fetch_is_a_400_and_no_task(fetching: RunwayEmulator, media_url: str) -> None:
    with api_client(fetching) as api:
        missing = api.post("/v1/image_to_video", json=_image_body(f"{media_url}/gone.png"))
        closed = api.post("/v1/image_to_video", json=_image_body("http://127.0.0.1:9/frame.png"))
    assert (missing.status_code, missing.json()["code"]) == (400, "INVALID_REQUEST")
    assert "promptImage" in missing.json()["error"]
    assert "HTTP 404" in missing.json()["error"]
    assert closed.status_code == 400
    assert fetching.tasks() == []


def test_other_urls_are_never_fetched(fetching: RunwayEmulator) -> None:
    with api_client(fetching) as api:
        answer = api.post("/v1/image_to_video", json=_image_body("https://example.com/a.png"))
    assert answer.status_code == 200
    assert [task["inputsFetched"] for task in fetching.tasks()] == [[]]


def test_by_default_runways_rules_hold(api: httpx.Client, media_url: str) -> None:
    for uri in (f"{media_url}/frame.png", "s3://in-ok/frame.png"):
        answer = api.post("/v1/image_to_video", json=_image_body(uri))
        assert answer.status_code == 400, uri
        assert "HTTPS" in answer.json()["error"]
