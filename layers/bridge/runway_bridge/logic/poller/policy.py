"""When to look at a Runway task next: adaptive polling, plain Python, no I/O.

What it optimises. Every GET /v1/tasks/{id} costs a request against Runway's rate limits and a
Lambda/Step Functions step; every second between Runway finishing and the bridge noticing is a second
the caller waits for the webhook. A fixed 6 s loop (the SDK's) spends ~duration/6 GETs per task to get
a ~3 s average notice delay. Most of those GETs land where the task cannot possibly be done yet. This
policy spends GETs where the finish is likely instead:

- First poll after a prior: each model family has a typical duration (gen4_turbo ~35 s for a 5 s
  clip; bigger models and 10 s clips take minutes). The first GET comes at a fraction of it, early
  enough that even a quick task is not missed by much, late enough that it usually shows progress.
- PENDING / THROTTLED (queue waits): no progress to learn from and no end in sight, so back off in
  proportion to the time already spent waiting (a long queue is likely to stay long).
- RUNNING: estimate the remaining time from the progress rate, robustly. Runway's progress is uneven
  (plateaus, sudden jumps, noise), so three rates are combined by their median: the long-run rate
  since the task was last seen without progress, the same rate with its single biggest step removed
  (one jump is never trusted on its own), and the model's prior rate. The next GET is aimed at the
  start of the window where the finish becomes plausible (estimate minus its uncertainty); inside that
  window GETs are dense, spaced about sqrt(2 * get_worth_s * uncertainty), which is the interval that
  balances one GET against the expected delay it saves when finishing is equally likely anywhere in
  the window. As progress accumulates the uncertainty shrinks, so the dense phase is short.
- A plateau makes the long-run rate fall as time passes, so the estimate recedes and polls spread out
  by themselves; on top, a task whose progress has not moved for S seconds waits at least a fraction
  of S (stalls tend to last): a stalled task is never hammered. After a jump, the next GETs that show
  no further progress pull the estimate back the same way, so a jump cannot keep the job dense.
- While running, no wait exceeds a fraction of the task's age: estimates from uneven progress can be
  wrong by a lot, and this bounds how late a task that finishes early is noticed (the p95 delay).
- Small multiplicative jitter (seeded generator when given) so many jobs submitted together do not
  poll in lockstep; every delay ends within [min_interval_s, max_interval_s] and never past the job's
  timeout.

The progress history stored on the job is bounded (`record_progress`): the anchor sample (the last
time the task was seen with no progress, or its first progress reading) plus the latest readings.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, model_validator

from runway_bridge.models.operations import REGISTRY

ProgressSample = tuple[float, float]  # (epoch seconds, progress 0..1)

QUEUED_STATUSES: Final = frozenset({"PENDING", "THROTTLED", "QUEUED", "SUBMITTING"})
TERMINAL_STATUSES: Final = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})

# Typical total seconds (submit to finish) of a 5 s clip per model family, from Runway's publicly
# reported timings; longest prefix wins, so "gen4_turbo" is not read as "gen4".
DEFAULT_TYPICAL_DURATIONS_S: Final = {
    "gen4_turbo": 38.0,
    "gen4_aleph": 110.0,
    "gen4.5": 95.0,
    "gen4": 70.0,
    "gen3a_turbo": 40.0,
    "veo3.1_fast": 60.0,
    "veo3": 120.0,
    "act_two": 60.0,
    "upscale_v1": 45.0,
    "frame_interpolation_v1": 40.0,
    "sound_effect_v1": 32.0,
    "eleven": 20.0,
}


class PollingPolicy(BaseModel):
    """Bounds and priors of adaptive polling. Seconds throughout."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_interval_s: float = Field(default=1.5, gt=0)
    max_interval_s: float = Field(default=60.0, gt=0)
    typical_durations_s: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_TYPICAL_DURATIONS_S))
    # A model family the table above does not know takes its operation's typical duration (the
    # operation registry's prior), else this.
    operation_typical_durations_s: dict[str, float] = Field(
        default_factory=lambda: {spec.name: spec.typical_duration_s for spec in REGISTRY}
    )
    default_typical_duration_s: float = Field(default=90.0, gt=0)
    # 10 s clips take about this much longer than 5 s ones.
    long_clip_factor: float = Field(default=1.6, ge=1.0)
    # First GET at this fraction of the model's typical duration after submit; without a learned
    # prior this is also the earliest plausible finish.
    first_poll_fraction: float = Field(default=0.4, gt=0, le=1.0)
    # Queue waits: wait this fraction of the time already spent (at least min_interval_s).
    queue_backoff_fraction: float = Field(default=0.2, ge=0)
    # Relative uncertainty of a remaining-time estimate with no progress seen, and with all of it.
    uncertainty_at_start: float = Field(default=0.6, ge=0)
    uncertainty_at_end: float = Field(default=0.7, ge=0)
    # Seconds of notice delay one GET is worth: larger means fewer GETs, later notice.
    get_worth_s: float = Field(default=1.0, gt=0)
    # Progress Runway reports just before SUCCEEDED (the status, not progress=1, marks the end).
    finish_progress: float = Field(default=0.98, gt=0, le=1.0)
    # While running, never wait longer than this fraction of the task's age: estimates made from
    # uneven progress can be off by a lot, and a wait proportional to age bounds the overshoot.
    running_age_fraction: float = Field(default=0.25, gt=0)
    # Running with no progress reported: look this often once the prior's first look has passed.
    unreported_interval_s: float = Field(default=5.0, gt=0)
    # No progress for S seconds: wait at least this fraction of S (a stall tends to last).
    stall_backoff_fraction: float = Field(default=0.25, ge=0)
    jitter_fraction: float = Field(default=0.08, ge=0, lt=0.5)
    # After this long the job times out (the caller cancels it); no poll is planned past it.
    max_age_s: float = Field(default=3600.0, gt=0)
    history_size: int = Field(default=12, ge=2)

    @model_validator(mode="after")
    def _ordered_bounds(self) -> PollingPolicy:
        if self.min_interval_s > self.max_interval_s:
            raise ValueError("min_interval_s must not exceed max_interval_s")
        return self

    # --- priors ---------------------------------------------------------------------------------

    def typical_duration_s(
        self, model: str, clip_seconds: int | None = None, operation: str | None = None
    ) -> float:
        matches = [family for family in self.typical_durations_s if model.startswith(family)]
        if matches:
            base = self.typical_durations_s[max(matches, key=len)]
        else:
            base = self.operation_typical_durations_s.get(operation or "", self.default_typical_duration_s)
        return base * (self.long_clip_factor if _long_clip(clip_seconds) else 1.0)

    def first_poll_delay(
        self, model: str, clip_seconds: int | None = None, rng: random.Random | None = None
    ) -> float:
        """Delay from submit to the first GET."""
        raw = self.first_poll_fraction * self.typical_duration_s(model, clip_seconds)
        return self._finish(raw, age_s=0.0, rng=rng)

    def timed_out(self, age_s: float) -> bool:
        return age_s >= self.max_age_s

    # --- the decision ---------------------------------------------------------------------------

    def next_poll_delay(
        self,
        status: str,
        model: str,
        age_s: float,
        progress_history: Sequence[ProgressSample],
        now: float,
        *,
        clip_seconds: int | None = None,
        operation: str | None = None,
        prior: DurationPrior | None = None,
        rng: random.Random | None = None,
    ) -> float:
        """Seconds from `now` until the next GET of a task in `status` (the one just read).

        `age_s` is the time since submit; `progress_history` holds the samples kept by
        `record_progress` (same clock as `now`). `prior` is what the bridge learned of this kind
        of task's durations (`learned_prior`); without one the model table's prior is used.
        Terminal statuses get no further poll: the caller does not ask; if it does, the answer is
        max_interval_s.
        """
        typical = prior.typical_s if prior else self.typical_duration_s(model, clip_seconds, operation)
        earliest = prior.earliest_s if prior else self.first_poll_fraction * typical
        if status in TERMINAL_STATUSES:
            raw = self.max_interval_s
        elif status in QUEUED_STATUSES:
            raw = max(earliest - age_s, self.queue_backoff_fraction * age_s)
        else:  # RUNNING, PROCESSING, or a status this code does not know yet: treated as running
            raw = self._running_delay(age_s, progress_history, now, typical, earliest)
        return self._finish(raw, age_s=age_s, rng=rng)

    def estimate_remaining_s(
        self, age_s: float, progress_history: Sequence[ProgressSample], now: float, typical_s: float
    ) -> tuple[float, float]:
        """(estimated seconds until Runway finishes, uncertainty of that estimate in seconds)."""
        submitted_at = now - age_s
        anchor_t, anchor_p = submitted_at, 0.0
        samples = [s for s in progress_history if s[0] >= submitted_at]
        if samples:
            anchor_t, anchor_p = samples[0]
            samples = samples[1:]
            if anchor_p > 0.0:
                # First reading already had progress: measure from submit (pending included, which
                # errs towards polling later, never towards hammering).
                samples = [(anchor_t, anchor_p), *samples]
                anchor_t, anchor_p = submitted_at, 0.0
        if not samples:
            return max(typical_s - age_s, 0.0), typical_s * self.uncertainty_at_start
        last_t, last_p = samples[-1]
        # Time keeps passing after the last reading: a rate measured to `now` falls during a plateau.
        elapsed = max(now - anchor_t, last_t - anchor_t, 1e-6)
        gained = max(last_p - anchor_p, 0.0)
        steps = [b[1] - a[1] for a, b in zip([(anchor_t, anchor_p), *samples], samples, strict=False)]
        biggest_step = max([0.0, *steps])
        long_run_rate = gained / elapsed
        without_biggest_rate = (gained - biggest_step) / elapsed
        prior_rate = self.finish_progress / typical_s
        rate = sorted([long_run_rate, without_biggest_rate, prior_rate])[1]
        left = max(self.finish_progress - last_p, 0.0)
        remaining = left / rate if rate > 0 else typical_s
        seen = min(max(last_p / self.finish_progress, 0.0), 1.0)
        relative = self.uncertainty_at_start + (self.uncertainty_at_end - self.uncertainty_at_start) * seen
        # Uncertainty never below one minimum interval: the estimate is made of sampled readings.
        uncertainty = max(relative * remaining, self.min_interval_s)
        return remaining, uncertainty

    def _running_delay(
        self,
        age_s: float,
        progress_history: Sequence[ProgressSample],
        now: float,
        typical_s: float,
        earliest_s: float,
    ) -> float:
        if not any(progress > 0.0 for _, progress in progress_history):
            # No progress to learn from (none yet, or Runway does not report it): nothing beats
            # a steady loop, but the prior says when a finish is still out of reach.
            return max(earliest_s - age_s, self.unreported_interval_s)
        remaining, uncertainty = self.estimate_remaining_s(age_s, progress_history, now, typical_s)
        dense_interval = math.sqrt(2.0 * self.get_worth_s * uncertainty)
        until_window = remaining - uncertainty
        delay = until_window if until_window > dense_interval else dense_interval
        delay = max(delay, self.stall_backoff_fraction * _stalled_for(progress_history, now))
        # The age bound counts from the earliest plausible finish: a younger task cannot be near
        # its end, whatever its age.
        return min(delay, self.running_age_fraction * max(age_s, earliest_s))

    def _finish(self, raw: float, *, age_s: float, rng: random.Random | None) -> float:
        # Jitter uses the module PRNG unless a seeded one is given; spreading, not security.
        jitter = (rng or random).uniform(-self.jitter_fraction, self.jitter_fraction)
        delay = min(max(raw * (1.0 + jitter), self.min_interval_s), self.max_interval_s)
        until_timeout = self.max_age_s - age_s
        if until_timeout < delay:
            delay = max(until_timeout, self.min_interval_s)
        return delay


def _stalled_for(progress_history: Sequence[ProgressSample], now: float) -> float:
    """Seconds since the progress last moved (0 without two readings of some progress)."""
    if len(progress_history) < 2 or progress_history[-1][1] <= 0.0:
        return 0.0
    latest = progress_history[-1][1]
    since = progress_history[-1][0]
    for t, p in reversed(progress_history[:-1]):
        if p < latest:
            break
        since = t
    return max(now - since, 0.0)


def next_poll_delay(
    status: str,
    model: str,
    age_s: float,
    progress_history: Sequence[ProgressSample],
    now: float,
    *,
    policy: PollingPolicy | None = None,
    clip_seconds: int | None = None,
    rng: random.Random | None = None,
) -> float:
    """`PollingPolicy.next_poll_delay` with the default policy unless one is given."""
    return (policy or PollingPolicy()).next_poll_delay(
        status, model, age_s, progress_history, now, clip_seconds=clip_seconds, rng=rng
    )


def record_progress(
    history: Sequence[Sequence[float]], now: float, status: str, progress: float | None, *, limit: int = 12
) -> list[list[float]]:
    """The history with one more reading, compact and bounded, ready to store on the job.

    Queue statuses (and RUNNING without progress) count as progress 0: only the latest such reading
    is kept, since it is the best bound on when the work started. Beyond `limit` samples the
    second-oldest is dropped, so the anchor (oldest) and the latest readings stay.
    """
    if status in TERMINAL_STATUSES:
        return [list(sample) for sample in history]
    value = 0.0 if status in QUEUED_STATUSES or progress is None else min(max(progress, 0.0), 1.0)
    kept = [[float(t), float(p)] for t, p in history]
    if value == 0.0:
        kept = [sample for sample in kept if sample[1] > 0.0]
    kept.append([round(now, 2), round(value, 4)])
    kept.sort(key=lambda sample: sample[0])
    while len(kept) > max(limit, 2):
        del kept[1]
    return kept


def as_samples(history: Sequence[Sequence[float]]) -> list[ProgressSample]:
    """Stored history (lists, e.g. DynamoDB numbers) as typed samples."""
    return [(float(t), float(p)) for t, p in history]


# --- priors learned from the bridge's own finished jobs -------------------------------------------

# Durations are counted in buckets growing by 10% from 5 s (bucket i starts at 5 * 1.1**i s), so a
# kind of task's whole history is a few dozen counters that a single atomic add updates.
DURATION_BUCKET_BASE_S: Final = 5.0
DURATION_BUCKET_RATIO: Final = 1.1
DURATION_BUCKETS: Final = 80  # up to ~2.5 h
# A learned prior is used once this many tasks of the kind finished.
LEARNED_PRIOR_MIN_SAMPLES: Final = 20
# The earliest plausible finish: this quantile of the learned durations.
EARLIEST_QUANTILE: Final = 0.05


class DurationPrior(BaseModel):
    """Seconds from submit to Runway's finish of a kind of task: the median and an early quantile."""

    model_config = ConfigDict(frozen=True)

    typical_s: float = Field(gt=0)
    earliest_s: float = Field(ge=0)


def prior_key(model: str, clip_seconds: int | None) -> str:
    """Which learned prior a task counts towards: its model, long clips apart."""
    return f"{model}|{'long' if _long_clip(clip_seconds) else 'short'}"


def duration_bucket(seconds: float) -> int:
    if seconds <= DURATION_BUCKET_BASE_S:
        return 0
    index = int(math.log(seconds / DURATION_BUCKET_BASE_S) / math.log(DURATION_BUCKET_RATIO))
    return min(index, DURATION_BUCKETS - 1)


def _bucket_middle_s(index: int) -> float:
    return float(DURATION_BUCKET_BASE_S * DURATION_BUCKET_RATIO ** (index + 0.5))


def learned_prior(counts: Mapping[int, int]) -> DurationPrior | None:
    """The prior from bucket counts (`duration_bucket`), or None with too few finished tasks."""
    total = sum(count for count in counts.values() if count > 0)
    if total < LEARNED_PRIOR_MIN_SAMPLES:
        return None

    def quantile(fraction: float) -> float:
        seen = 0
        for index in sorted(counts):
            seen += max(counts[index], 0)
            if seen >= fraction * total:
                return _bucket_middle_s(index)
        return _bucket_middle_s(max(counts))

    return DurationPrior(typical_s=quantile(0.5), earliest_s=quantile(EARLIEST_QUANTILE))


def _long_clip(clip_seconds: int | None) -> bool:
    """10 s clips take markedly longer than 5 s ones (the prior's factor, and a kind of their own)."""
    return clip_seconds is not None and clip_seconds >= 10
