"""Fixtures for the emulator tests: each test gets its own emulator on a free loopback port."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from runway_bridge_dev.emulator import EmulatorConfig, RunwayEmulator

RUNWAY_VERSION = "2024-11-06"
# 20x: the fast profile's ~6 s task takes ~0.3 s of real time.
FAST_CLOCK = 20.0


def api_client(emulator: RunwayEmulator) -> httpx.Client:
    return httpx.Client(
        base_url=emulator.base_url,
        headers={"Authorization": f"Bearer {emulator.api_key}", "X-Runway-Version": RUNWAY_VERSION},
        timeout=10.0,
    )


@pytest.fixture
def emulator() -> Iterator[RunwayEmulator]:
    with RunwayEmulator(EmulatorConfig(seed=7, clock_speed=FAST_CLOCK)) as running:
        yield running


@pytest.fixture
def api(emulator: RunwayEmulator) -> Iterator[httpx.Client]:
    with api_client(emulator) as client:
        yield client


TEXT_TO_VIDEO = {"model": "gen4.5", "promptText": "a lighthouse at dusk", "ratio": "1280:720", "duration": 5}


def create_task(api: httpx.Client, operation: str = "text_to_video", **overrides: Any) -> str:
    body = {**TEXT_TO_VIDEO, **overrides} if operation == "text_to_video" else overrides
    response = api.post(f"/v1/{operation}", json=body)
    assert response.status_code == 200, response.text
    task_id: str = response.json()["id"]
    return task_id


def wait_for_task(
    api: httpx.Client,
    task_id: str,
    until: Callable[[dict[str, Any]], bool] = lambda task: (
        task["status"] in {"SUCCEEDED", "FAILED", "CANCELLED"}
    ),
    timeout_s: float = 10.0,
    interval_s: float = 0.01,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Poll GET /v1/tasks/{id} until `until(task)`; returns the last task and every one seen."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        response = api.get(f"/v1/tasks/{task_id}")
        assert response.status_code == 200, response.text
        task = response.json()
        seen.append(task)
        if until(task):
            return task, seen
        time.sleep(interval_s)
    raise AssertionError(f"task {task_id} never reached the expected state; last seen {seen[-1:]}")
