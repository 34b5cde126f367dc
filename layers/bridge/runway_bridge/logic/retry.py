"""When a failed queue message comes back: one rule for every SQS consumer (the copier, the webhook
deliverer), which set the delay on the message themselves (adapters/redelivery.py).

A consumer's policy names the delay: the copier backs off exponentially in its deliveries, capped
(`backoff_delay_s`); the deliverer follows its schedule. `retry_delay_s` then stretches it by up to
`JITTER_FRACTION`, so messages that failed together do not all come back together, and never brings
it back sooner than the policy says.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Final

JITTER_FRACTION: Final = 0.1

# (low, high) -> a number in [low, high]
Uniform = Callable[[float, float], float]
# Jitter spreads retries in time; it protects nothing, so the non-crypto generator is right.
spread: Final[Uniform] = random.Random().uniform  # noqa: S311


def retry_delay_s(delay_s: float, *, uniform: Uniform = spread) -> float:
    """Seconds before a failed message comes back when its policy says `delay_s`: within
    [delay_s, delay_s * (1 + JITTER_FRACTION)]."""
    delay_s = max(delay_s, 0.0)
    return uniform(delay_s, delay_s * (1 + JITTER_FRACTION))


def backoff_delay_s(attempt: int, *, base_s: float, cap_s: float, uniform: Uniform = spread) -> float:
    """`retry_delay_s` after attempt `attempt` (1-based) of an exponential back-off:
    base_s * 2^(attempt - 1), at most cap_s."""
    return retry_delay_s(min(cap_s, base_s * 2 ** max(attempt - 1, 0)), uniform=uniform)
