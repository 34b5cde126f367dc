"""One retry rule for the queue consumers (logic/retry.py): the copier and the webhook deliverer
bring a failed message back no sooner than their policy says, and at most 10 % later."""

from __future__ import annotations

import ast
import random
from pathlib import Path

import pytest

from runway_bridge.logic.retry import JITTER_FRACTION, backoff_delay_s, retry_delay_s

HANDLERS = sorted((Path(__file__).resolve().parents[2] / "functions").glob("*/app.py"))


def lowest(low: float, high: float) -> float:
    return low


def highest(low: float, high: float) -> float:
    return high


def test_a_retry_comes_back_after_its_delay_and_at_most_ten_percent_later() -> None:
    assert retry_delay_s(300.0, uniform=lowest) == 300.0
    assert retry_delay_s(300.0, uniform=highest) == pytest.approx(330.0)
    assert JITTER_FRACTION == 0.1
    assert retry_delay_s(0.0) == 0.0  # "immediately" stays immediate
    rng = random.Random(7)
    delays = [retry_delay_s(300.0, uniform=rng.uniform) for _ in range(200)]
    assert all(300.0 <= delay <= 330.0 for delay in delays)
    assert max(delays) - min(delays) > 20  # spread, so failures together do not come back together


def test_the_back_off_doubles_per_attempt_up_to_its_cap() -> None:
    delays = [backoff_delay_s(attempt, base_s=30.0, cap_s=900.0, uniform=lowest) for attempt in range(1, 8)]
    assert delays == [30.0, 60.0, 120.0, 240.0, 480.0, 900.0, 900.0]
    assert backoff_delay_s(6, base_s=30.0, cap_s=900.0, uniform=highest) == pytest.approx(990.0)


@pytest.mark.parametrize("handler", HANDLERS, ids=lambda path: path.parent.name)
def test_no_handler_draws_its_own_jitter(handler: Path) -> None:
    tree = ast.parse(handler.read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert "random" not in imported
