"""Shared fixtures of the local-runtime tests.

`local_aws(template_path, parameters=None)` starts a `LocalAws` for one test and stops it afterwards.
Modules that share one stack across their tests build a module-scoped fixture on `LocalAws` directly
(one moto server per module; each xdist worker is its own process with its own moto state).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import pytest

from runway_bridge_dev.local.aws import LocalAws

FIXTURES = Path(__file__).parent / "fixtures"
CORE_TEMPLATE = FIXTURES / "core" / "template.yaml"
CORE_HANDLERS = FIXTURES / "core" / "handlers"

T = TypeVar("T")


def wait_for(probe: Callable[[], T | None], *, timeout_s: float = 15.0, interval_s: float = 0.05) -> T:
    """Poll `probe` until it returns something truthy; fail with the last value after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout_s} s (last value: {value!r})")
        time.sleep(interval_s)


@pytest.fixture
def local_aws() -> Iterator[Callable[..., LocalAws]]:
    started: list[LocalAws] = []

    def start(template_path: str | Path, parameters: Mapping[str, Any] | None = None) -> LocalAws:
        aws = LocalAws(template_path, parameters=parameters)
        started.append(aws)
        return aws.start()

    yield start
    for aws in reversed(started):
        aws.stop()
