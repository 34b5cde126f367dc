"""Fixtures for the official-SDK tests: the unmodified `runwayml` client pointed at an emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from runwayml import RunwayML

from runway_bridge_dev.emulator import EmulatorConfig, RunwayEmulator


@pytest.fixture
def emulator() -> Iterator[RunwayEmulator]:
    # Real-time clock: a task stays unfinished for ~6 s, long enough to see and cancel it.
    with RunwayEmulator(EmulatorConfig(seed=5)) as running:
        yield running


@pytest.fixture
def sdk(emulator: RunwayEmulator) -> Iterator[RunwayML]:
    # Only what a user changes to point their code elsewhere: the key and the base URL.
    with RunwayML(api_key=emulator.api_key, base_url=emulator.base_url) as client:
        yield client
