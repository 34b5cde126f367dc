"""The official `runwayml` SDK pointed at the bridge: only `base_url` and a bridge key change."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.api.conftest import SLOW_CLOCK, Stack, Tenant, new_tenant, start_stack


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    running = start_stack(clock_speed=SLOW_CLOCK)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def tenant(stack: Stack) -> Tenant:
    return new_tenant("sdk")


@pytest.fixture
def other_tenant(stack: Stack) -> Tenant:
    return new_tenant("sdk-other")
