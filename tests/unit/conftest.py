"""The unit tier: logic against in-memory fakes; no moto, no emulator, no network."""

from __future__ import annotations

import pytest

from tests.unit.harness import Harness, build


@pytest.fixture
def h() -> Harness:
    return build()
