"""Fixtures of the output copier tests: a moto S3 server on a free loopback port (one per worker),
a fresh bucket per test, and a Runway emulator per test whose tasks finish in a fraction of a second."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from runway_bridge.adapters.copy.outputs import HttpOutputSource, S3MultipartStore
from runway_bridge.adapters.url_guard import UrlGuard
from runway_bridge.logic.copy.streaming import MultipartStore, OutputSource, copy_task_outputs
from runway_bridge.models.job import JobOutput
from runway_bridge.settings import BridgeSettings
from runway_bridge_dev.emulator import EmulatorConfig, RunwayEmulator

RUNWAY_VERSION = "2024-11-06"
FAST_CLOCK = 20.0
TEXT_TO_VIDEO = {"model": "gen4.5", "promptText": "a lighthouse at dusk", "ratio": "1280:720", "duration": 5}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(moto_endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"copier-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def store(s3: Any, bucket: str) -> S3MultipartStore:
    return S3MultipartStore(s3, bucket)


class CountingSource(HttpOutputSource):
    """The real HTTP source over a client that counts the GETs it sends (observed, not faked)."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.http = httpx.Client(
            timeout=httpx.Timeout(10.0, connect=5.0),
            event_hooks={"request": [lambda request: self.requests.append(str(request.url))]},
        )
        # The emulator serves outputs on loopback http: the local relaxation of the address guard.
        local = UrlGuard.for_outputs(BridgeSettings(allow_local_outputs=True))
        super().__init__(client=self.http, check=local.check)


@pytest.fixture
def source() -> Iterator[CountingSource]:
    counting = CountingSource()
    yield counting
    counting.http.close()


@pytest.fixture
def emulator() -> Iterator[RunwayEmulator]:
    with RunwayEmulator(EmulatorConfig(seed=11, clock_speed=FAST_CLOCK)) as running:
        yield running


@pytest.fixture
def runway(emulator: RunwayEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=emulator.base_url,
        headers={"Authorization": f"Bearer {emulator.api_key}", "X-Runway-Version": RUNWAY_VERSION},
        timeout=10.0,
    ) as client:
        yield client


def succeeded_task(runway: httpx.Client, operation: str = "text_to_video", **body: Any) -> dict[str, Any]:
    """Create a task at the emulator and wait until it has succeeded; returns the task."""
    payload = {**TEXT_TO_VIDEO, **body} if operation == "text_to_video" else body
    created = runway.post(f"/v1/{operation}", json=payload)
    assert created.status_code == 200, created.text
    task_id = created.json()["id"]
    deadline = time.monotonic() + 15.0
    while time.monotonic() < deadline:
        task: dict[str, Any] = runway.get(f"/v1/tasks/{task_id}").json()
        if task["status"] == "SUCCEEDED":
            return task
        assert task["status"] not in {"FAILED", "CANCELLED"}, task
        time.sleep(0.02)
    raise AssertionError(f"task {task_id} did not succeed in time")


def open_uploads(s3: Any, bucket: str) -> list[dict[str, Any]]:
    uploads: list[dict[str, Any]] = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return uploads


def no_refresh() -> list[str]:
    raise AssertionError("the URLs should not need a refresh here")


def copy_fresh_outputs(
    task: dict[str, Any], *, job_id: str, source: OutputSource, store: MultipartStore, **options: Any
) -> list[JobOutput]:
    """`copy_task_outputs` of a succeeded task whose output URLs are still valid (a refresh fails the
    test); `options` as `copy_task_outputs` takes them (policy, key_prefix, ...)."""
    return copy_task_outputs(
        job_id=job_id,
        task_id=task["id"],
        output_urls=task["output"],
        refresh_urls=no_refresh,
        source=source,
        store=store,
        **options,
    )
