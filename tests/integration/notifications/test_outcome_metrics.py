"""The relay counts each published terminal event for the dashboard (JobsSucceeded, JobsFailed, ...)
with the time from the recorded outcome to its publication (OutcomePublishLag)."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from runway_bridge.models.events import EventType
from runway_bridge.observability import metrics

RELAY_HANDLER = Path(__file__).resolve().parents[3] / "functions" / "publish_events" / "app.py"


@pytest.fixture
def relay_app() -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location("publish_events_app", RELAY_HANDLER)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    metrics.clear_metrics()
    yield module
    metrics.clear_metrics()


def event(event_type: str, age: timedelta) -> tuple[EventType, datetime]:
    return EventType(event_type), datetime.now(UTC) - age


def values(name: str) -> list[Any]:
    found = metrics.metric_set.get(name, {}).get("Value", [])
    return list(found) if isinstance(found, list) else [found]


def test_terminal_events_are_counted_per_outcome_with_their_publish_lag(relay_app: ModuleType) -> None:
    relay_app.count_outcome(*event("task.succeeded", timedelta(seconds=3)))
    relay_app.count_outcome(*event("task.timed_out", timedelta(seconds=1)))
    relay_app.count_outcome(*event("task.progress", timedelta(seconds=1)))  # not an outcome
    assert values("JobsSucceeded") == [1]
    assert values("JobsTimedOut") == [1]
    assert "JobsProgress" not in metrics.metric_set
    lags = sorted(values("OutcomePublishLag"))
    assert len(lags) == 2
    assert 900 <= lags[0] < 60_000
    assert 2900 <= lags[1] < 60_000
