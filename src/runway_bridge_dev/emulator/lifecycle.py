"""A task's life, decided when it is created: how long it stays PENDING (and THROTTLED), how long it
runs, how its progress moves (or whether it is reported at all), and whether it fails. Status is then
a pure function of the emulator clock, so the emulator needs no background thread.

Besides the profiles, `EmulatorConfig.lives` mixes kinds of life, each with a queue phase first:
- realistic: the realistic profile's plan;
- stairs: progress climbs in steps, long flat treads and short risers;
- stall: progress climbs, then stands still for a long part of the run, then climbs again;
- silent: RUNNING without any progress field (Runway's spec does not promise one);
- noisy: progress wanders around its trend, sometimes backwards.
"""

from __future__ import annotations

import bisect
import math
import random
import threading
import time
from dataclasses import dataclass
from typing import get_args

from runway_bridge_dev.emulator.config import (
    FAST_PROFILE_TOTAL_S,
    REALISTIC_MAX_S,
    REALISTIC_MIN_S,
    EmulatorConfig,
    LifeKind,
)

GENERIC_FAILURE_CODE = "INTERNAL.BAD_OUTPUT.CODE01"
FAILURE_MESSAGES = {
    "INTERNAL.BAD_OUTPUT.CODE01": "The model produced an output that did not pass quality checks. Try again.",
    "SAFETY.INPUT.TEXT": "The prompt text did not pass content moderation.",
    "SAFETY.INPUT.IMAGE": "An input image did not pass content moderation.",
    "SAFETY.OUTPUT.VIDEO": "The generated video did not pass content moderation.",
}
# Typical total seconds per model in the realistic profile (bigger models take longer); each task
# then spreads around it.
# Total seconds of the lives other than "realistic" (queue phase included).
LIFE_MIN_S = 20.0
LIFE_MAX_S = 150.0
REALISTIC_TYPICAL_S = {
    "gen4_turbo": 38.0,
    "gen4": 70.0,
    "gen4.5": 95.0,
    "gen4_aleph": 110.0,
    "veo3": 120.0,
    "veo3.1": 120.0,
    "veo3.1_fast": 60.0,
    "act_two": 60.0,
    "upscale_v1": 45.0,
    "frame_interpolation_v1": 40.0,
    "sound_effect_v1": 32.0,
}
# Credits per second of output, roughly the public price list; unknown models cost this.
CREDITS_PER_SECOND = {
    "gen4_turbo": 5,
    "gen4": 12,
    "gen4.5": 12,
    "gen4_aleph": 15,
    "veo3": 40,
    "veo3.1": 40,
    "veo3.1_fast": 15,
    "act_two": 5,
    "upscale_v1": 2,
    "frame_interpolation_v1": 2,
    "sound_effect_v1": 1,
}
DEFAULT_CREDITS_PER_SECOND = 10


class EmulatorClock:
    """Emulator time in epoch seconds; runs `speed` times faster than the wall clock and starts at
    the current wall-clock time. Changing the speed never makes time jump."""

    def __init__(self, speed: float = 1.0) -> None:
        self._lock = threading.Lock()
        self._speed = speed
        self._base_emulated = time.time()
        self._base_monotonic = time.monotonic()

    def now(self) -> float:
        with self._lock:
            return self._base_emulated + (time.monotonic() - self._base_monotonic) * self._speed

    @property
    def speed(self) -> float:
        return self._speed

    def set_speed(self, speed: float) -> None:
        with self._lock:
            monotonic = time.monotonic()
            self._base_emulated += (monotonic - self._base_monotonic) * self._speed
            self._base_monotonic = monotonic
            self._speed = speed

    def wall_time_of(self, emulated: float) -> float:
        """Wall-clock epoch at which the emulator clock reads `emulated` (at the current speed)."""
        return time.time() + (emulated - self.now()) / self._speed


@dataclass(frozen=True)
class ProgressCurve:
    """Piecewise-linear progress over the run (fraction of run time -> progress); monotone except
    for the noisy life."""

    times: tuple[float, ...]
    values: tuple[float, ...]

    def at(self, fraction: float) -> float:
        if fraction <= 0.0:
            return self.values[0]
        if fraction >= 1.0:
            return self.values[-1]
        index = bisect.bisect_right(self.times, fraction) - 1
        t0, t1 = self.times[index], self.times[index + 1]
        v0, v1 = self.values[index], self.values[index + 1]
        return v0 + (v1 - v0) * (fraction - t0) / (t1 - t0)


def make_progress_curve(rng: random.Random, segments: int) -> ProgressCurve:
    """Uneven progress: segments of random length, each a plateau, a jump or noisy steady work."""
    lengths: list[float] = []
    gains: list[float] = []
    for _ in range(segments):
        kind = rng.random()
        if kind < 0.3:  # plateau: time passes, progress does not
            lengths.append(rng.uniform(0.6, 1.6))
            gains.append(0.0)
        elif kind < 0.5:  # jump: much progress in little time
            lengths.append(rng.uniform(0.05, 0.2))
            gains.append(rng.uniform(1.5, 3.0))
        else:  # steady work at an uneven pace
            lengths.append(rng.uniform(0.4, 1.4))
            gains.append(rng.uniform(0.3, 1.2))
    # At least one plateau and one jump, whatever the draw.
    lengths[0], gains[0] = rng.uniform(0.6, 1.6), 0.0
    middle = segments // 2
    lengths[middle], gains[middle] = rng.uniform(0.05, 0.2), rng.uniform(1.5, 3.0)
    total_length = sum(lengths)
    total_gain = sum(gains)
    # Progress tops out a little below 1: Runway reports completion through the status, not 1.0.
    ceiling = rng.uniform(0.93, 0.99)
    times = [0.0]
    values = [0.0]
    for length, gain in zip(lengths, gains, strict=True):
        times.append(times[-1] + length / total_length)
        values.append(values[-1] + ceiling * gain / total_gain)
    times[-1] = 1.0
    return ProgressCurve(tuple(times), tuple(values))


@dataclass
class TaskPlan:
    """What will happen to a task, in emulator-clock seconds."""

    pending_s: float
    run_s: float
    # None: progress is never reported.
    curve: ProgressCurve | None
    failure_code: str | None
    # Fraction of the run after which a failing task fails (0 = as soon as it would start).
    failure_at: float
    # THROTTLED after PENDING for at least this long (more when the per-model queue is full).
    throttled_s: float = 0.0
    # Which profile or life kind made the plan.
    life: str = "fast"


def total_duration(config: EmulatorConfig, model: str, clip_seconds: int | None, rng: random.Random) -> float:
    if config.durations and model in config.durations:
        return config.durations[model]
    low, high = config.min_duration_s, config.max_duration_s
    if config.profile == "fast":
        if low is None and high is None:
            return FAST_PROFILE_TOTAL_S * rng.uniform(0.9, 1.1)
        low = low if low is not None else min(high or FAST_PROFILE_TOTAL_S, FAST_PROFILE_TOTAL_S)
        high = high if high is not None else max(low, FAST_PROFILE_TOTAL_S)
        return rng.uniform(low, high)
    low = low if low is not None else min(REALISTIC_MIN_S, high or REALISTIC_MIN_S)
    high = high if high is not None else max(REALISTIC_MAX_S, low)
    typical = REALISTIC_TYPICAL_S.get(model, 90.0) * (1.6 if clip_seconds == 10 else 1.0)
    # Log-normal around the model's typical time: most tasks near it, a long tail of slow ones.
    drawn = typical * math.exp(rng.gauss(0.0, 0.45))
    return min(max(drawn, low), high)


def failure_from_prompt(prompt: object) -> str | None:
    """`[fail]` or `[fail:<CODE>]` in the prompt text makes the task fail (documented trigger)."""
    if not isinstance(prompt, str):
        return None
    start = prompt.find("[fail")
    if start < 0:
        return None
    end = prompt.find("]", start)
    if end < 0:
        return None
    marker = prompt[start + 1 : end]
    if marker == "fail":
        return GENERIC_FAILURE_CODE
    if marker.startswith("fail:") and len(marker) > len("fail:"):
        return marker[len("fail:") :].strip()
    return None


def life_from_prompt(prompt: object) -> LifeKind | None:
    """`[life:<kind>]` in the prompt text picks the task's life kind (documented trigger)."""
    if not isinstance(prompt, str):
        return None
    start = prompt.find("[life:")
    end = prompt.find("]", start)
    if start < 0 or end < 0:
        return None
    kind = prompt[start + len("[life:") : end].strip()
    return next((known for known in get_args(LifeKind) if known == kind), None)


def make_plan(
    config: EmulatorConfig,
    model: str,
    clip_seconds: int | None,
    prompt: object,
    rng: random.Random,
) -> TaskPlan:
    asked = life_from_prompt(prompt)
    if asked is not None:
        plan = make_life(asked, config, model, clip_seconds, rng)
    elif config.lives:
        kinds = list(config.lives)
        kind = rng.choices(kinds, weights=[config.lives[name] for name in kinds])[0]
        plan = make_life(kind, config, model, clip_seconds, rng)
    else:
        plan = _profile_plan(config, config.profile, model, clip_seconds, rng)
    failure_code = failure_from_prompt(prompt)
    random_failure = rng.random() < config.failure_rate
    if failure_code is None and random_failure:
        failure_code = GENERIC_FAILURE_CODE
    plan.failure_code = failure_code
    # Input moderation fails before any work starts; other failures happen part-way through.
    plan.failure_at = 0.0 if (failure_code or "").startswith("SAFETY.INPUT") else rng.uniform(0.2, 0.9)
    return plan


def _profile_plan(
    config: EmulatorConfig, profile: str, model: str, clip_seconds: int | None, rng: random.Random
) -> TaskPlan:
    total = total_duration(config.model_copy(update={"profile": profile}), model, clip_seconds, rng)
    if profile == "fast":
        pending = total * 0.15
        segments = rng.randint(5, 8)
    else:
        pending = min(rng.uniform(1.0, 6.0), total * 0.2)
        segments = rng.randint(10, 18)
    curve = make_progress_curve(rng, segments)
    return TaskPlan(pending, total - pending, curve, None, 1.0, life=profile)


def make_life(
    kind: LifeKind, config: EmulatorConfig, model: str, clip_seconds: int | None, rng: random.Random
) -> TaskPlan:
    """A plan of the given kind (see the module docs); all but "realistic" last LIFE_MIN_S-LIFE_MAX_S
    (or `durations`/`min_duration_s`/`max_duration_s` when set), a queue phase included."""
    if kind == "realistic":
        plan = _profile_plan(config, "realistic", model, clip_seconds, rng)
        plan.life = kind
        return plan
    if config.durations and model in config.durations:
        total = config.durations[model]
    else:
        low = config.min_duration_s if config.min_duration_s is not None else LIFE_MIN_S
        high = config.max_duration_s if config.max_duration_s is not None else max(LIFE_MAX_S, low)
        total = rng.uniform(low, high)
    # Queue phase: PENDING, and for some tasks THROTTLED after it; at most a third of the life.
    queue_share = rng.uniform(0.05, 0.3)
    throttled_share = queue_share * rng.uniform(0.3, 0.7) if rng.random() < 0.5 else 0.0
    pending = total * (queue_share - throttled_share)
    throttled = total * throttled_share
    run = total - pending - throttled
    curves = {"stairs": _stairs_curve, "stall": _stall_curve, "noisy": _noisy_curve}
    curve = curves[kind](rng) if kind in curves else None
    return TaskPlan(pending, run, curve, None, 1.0, throttled_s=throttled, life=kind)


def _curve(rng: random.Random, lengths: list[float], gains: list[float]) -> ProgressCurve:
    """Segments of relative `lengths` gaining relative `gains`, topping out a little below 1."""
    ceiling = rng.uniform(0.93, 0.99)
    total_length, total_gain = sum(lengths), sum(gains)
    times, values = [0.0], [0.0]
    for length, gain in zip(lengths, gains, strict=True):
        times.append(times[-1] + length / total_length)
        values.append(values[-1] + ceiling * gain / total_gain)
    times[-1] = 1.0
    return ProgressCurve(tuple(times), tuple(values))


def _stairs_curve(rng: random.Random) -> ProgressCurve:
    lengths: list[float] = []
    gains: list[float] = []
    for _ in range(rng.randint(3, 7)):
        lengths += [rng.uniform(0.6, 1.4), rng.uniform(0.02, 0.08)]  # tread, then riser
        gains += [0.0, rng.uniform(0.5, 1.5)]
    lengths.append(rng.uniform(0.3, 1.0))  # a last tread before the end
    gains.append(0.0)
    return _curve(rng, lengths, gains)


def _stall_curve(rng: random.Random) -> ProgressCurve:
    stall_at = rng.uniform(0.3, 0.8)
    climb, stall = rng.uniform(0.1, 0.3), rng.uniform(0.4, 0.65)
    # Climb to the stall point, stand still for a long while, then climb to the end.
    return _curve(rng, [climb, stall, 1.0 - climb - stall], [stall_at, 0.0, 1.0 - stall_at])


def _noisy_curve(rng: random.Random) -> ProgressCurve:
    knots = rng.randint(20, 40)
    ceiling = rng.uniform(0.93, 0.99)
    times = tuple(index / knots for index in range(knots + 1))
    values = [0.0]
    for index in range(1, knots + 1):
        trend = ceiling * index / knots
        values.append(min(1.0, max(0.0, trend + rng.gauss(0.0, 0.06))))
    values[-1] = ceiling  # the last report before the end is near the top, whatever the noise
    return ProgressCurve(times, tuple(values))


def failure_message(code: str) -> str:
    return FAILURE_MESSAGES.get(code, f"The task failed ({code}).")


def estimated_credits(model: str, clip_seconds: int | None) -> int:
    return CREDITS_PER_SECOND.get(model, DEFAULT_CREDITS_PER_SECOND) * (clip_seconds or 5)
