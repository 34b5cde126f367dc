"""Adaptive polling: what a user of the bridge would notice (how often Runway is read, how soon a
finished task is seen), checked on the policy's decisions over simulated progress."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from runway_bridge.logic.poller.policy import (
    LEARNED_PRIOR_MIN_SAMPLES,
    PollingPolicy,
    ProgressSample,
    as_samples,
    duration_bucket,
    learned_prior,
    next_poll_delay,
    record_progress,
)

POLICY = PollingPolicy()
MODEL = "gen4.5"


def steady_history(rate_per_s: float, until_s: float, every_s: float = 5.0) -> list[ProgressSample]:
    """Readings of a task making steady progress from age 0, one every `every_s` seconds."""
    history: list[list[float]] = []
    age = every_s
    while age <= until_s + 1e-9:
        history = record_progress(history, age, "RUNNING", min(rate_per_s * age, 0.99))
        age += every_s
    return as_samples(history)


def follow(
    progress_at: Callable[[float], float | None], horizon_s: float, policy: PollingPolicy = POLICY
) -> list[tuple[float, float]]:
    """Poll a task (ages are the clock) as the policy says until `horizon_s`; returns (age, delay)
    of every GET. `progress_at` returns None while the task is queued."""
    rng = random.Random(3)
    age = policy.first_poll_delay(MODEL, rng=rng)
    history: list[list[float]] = []
    reads: list[tuple[float, float]] = []
    while age < horizon_s:
        progress = progress_at(age)
        status = "PENDING" if progress is None else "RUNNING"
        history = record_progress(history, age, status, progress)
        delay = policy.next_poll_delay(status, MODEL, age, as_samples(history), age, rng=rng)
        reads.append((age, delay))
        age += delay
    return reads


def test_every_delay_stays_within_bounds_and_before_the_timeout() -> None:
    policy = PollingPolicy(min_interval_s=3.0, max_interval_s=40.0, max_age_s=600.0)
    rng = random.Random(11)
    statuses = ["PENDING", "THROTTLED", "RUNNING", "PROCESSING", "SOMETHING_NEW", "SUCCEEDED"]
    models = ["gen4_turbo", "gen4", "veo3.1", "unknown_model", "upscale_v1"]
    for _ in range(3000):
        age = rng.uniform(0.0, 700.0)
        history: list[list[float]] = []
        for _ in range(rng.randint(0, 20)):
            reading_age = rng.uniform(0.0, age)
            progress = rng.choice([None, 0.0, rng.random(), 1.0])
            history = record_progress(history, reading_age, rng.choice(statuses[:4]), progress)
        delay = policy.next_poll_delay(
            rng.choice(statuses), rng.choice(models), age, as_samples(history), age, rng=rng
        )
        assert policy.min_interval_s <= delay <= policy.max_interval_s
        # Never planned past the timeout, except that a GET is never closer than the minimum.
        assert age + delay <= max(policy.max_age_s, age + policy.min_interval_s) + 1e-9


def test_queue_waits_back_off_as_the_wait_grows() -> None:
    delays = {
        status: [
            POLICY.next_poll_delay(status, MODEL, age, [], age, rng=random.Random(1))
            for age in (60, 240, 900)
        ]
        for status in ("PENDING", "THROTTLED")
    }
    for status, (after_1_min, after_4_min, after_15_min) in delays.items():
        assert after_1_min >= 10.0, status
        assert after_1_min < after_4_min < after_15_min, status
    # A task waiting in Runway's queue is read less often than one that is about to finish.
    near_end = POLICY.next_poll_delay(
        "RUNNING", MODEL, 60, steady_history(0.9 / 60, 60), 60, rng=random.Random(1)
    )
    assert near_end < delays["THROTTLED"][0]


def test_a_task_at_90_percent_is_polled_sooner_than_one_at_10_percent() -> None:
    fast = steady_history(0.90 / 60, 60)
    slow = steady_history(0.10 / 60, 60)
    assert fast[-1][1] == pytest.approx(0.9)
    assert slow[-1][1] == pytest.approx(0.1)
    rng_seed = 4
    soon = POLICY.next_poll_delay("RUNNING", MODEL, 60, fast, 60, rng=random.Random(rng_seed))
    later = POLICY.next_poll_delay("RUNNING", MODEL, 60, slow, 60, rng=random.Random(rng_seed))
    assert soon <= 5.0
    assert later >= 2.5 * soon


def test_the_first_poll_follows_the_model_prior() -> None:
    turbo = POLICY.first_poll_delay("gen4_turbo", 5, random.Random(0))
    aleph = POLICY.first_poll_delay("gen4_aleph", 5, random.Random(0))
    turbo_10s = POLICY.first_poll_delay("gen4_turbo", 10, random.Random(0))
    # gen4_turbo is quick (~35 s): its first look comes well before a slow model's.
    assert 8.0 <= turbo <= 20.0
    assert aleph > 2 * turbo
    assert turbo_10s > turbo


def test_a_plateau_does_not_cause_a_hammering_loop() -> None:
    # Progress reaches 50% in 40 s, then stalls for ten minutes.
    reads = follow(lambda age: min(age / 80.0, 0.5), horizon_s=640.0)
    gets_during_stall = [delay for age, delay in reads if age >= 100.0]
    assert len(gets_during_stall) <= 25, gets_during_stall
    # The longer the stall, the rarer the GETs: late in it they are far apart.
    late = [delay for age, delay in reads if age >= 300.0]
    assert late
    assert min(late) >= 20.0, late


def test_a_single_jump_is_not_trusted_like_steady_progress() -> None:
    jumped = as_samples([[0.0, 0.0], [10.0, 0.03], [20.0, 0.05], [25.0, 0.85]])
    steady = steady_history(0.85 / 25, 25)
    assert jumped[-1][1] == pytest.approx(steady[-1][1])
    after_jump = POLICY.next_poll_delay("RUNNING", MODEL, 25, jumped, 25, rng=random.Random(2))
    after_steady = POLICY.next_poll_delay("RUNNING", MODEL, 25, steady, 25, rng=random.Random(2))
    assert after_jump >= 1.5 * after_steady  # the jump alone is not taken as a rate


def test_a_jump_followed_by_a_stall_does_not_stay_in_the_dense_phase() -> None:
    # Slow work to 20%, a jump to 90% at 30 s, then nothing more for ten minutes.
    def progress_at(age: float) -> float:
        return 0.2 * min(age, 30.0) / 30.0 if age < 30.0 else 0.9

    reads = follow(progress_at, horizon_s=630.0)
    dense = [age for age, delay in reads if age > 30.0 and delay <= 2 * POLICY.min_interval_s]
    # A few close looks right after the jump are fine; they end within a couple of minutes.
    assert all(age < 150.0 for age in dense), dense
    assert len([1 for age, _ in reads if age > 30.0]) <= 30


def test_jitter_is_deterministic_when_seeded_and_spreads_jobs_submitted_together() -> None:
    history = steady_history(0.5 / 60, 60)
    first = [
        POLICY.next_poll_delay("RUNNING", MODEL, 60, history, 60, rng=random.Random(42)) for _ in range(5)
    ]
    again = [
        POLICY.next_poll_delay("RUNNING", MODEL, 60, history, 60, rng=random.Random(42)) for _ in range(5)
    ]
    assert first == again
    shared = random.Random(42)
    hundred_jobs = [POLICY.first_poll_delay("gen4_turbo", 5, shared) for _ in range(100)]
    assert len({round(delay, 3) for delay in hundred_jobs}) >= 90
    # Spread, but small: every job still polls close to the prior.
    assert max(hundred_jobs) / min(hundred_jobs) <= 1.2


def test_the_module_function_uses_the_default_policy() -> None:
    history = steady_history(0.5 / 60, 60)
    assert next_poll_delay("RUNNING", MODEL, 60, history, 60, rng=random.Random(9)) == POLICY.next_poll_delay(
        "RUNNING", MODEL, 60, history, 60, rng=random.Random(9)
    )


def test_the_stored_history_stays_bounded_and_keeps_its_anchor() -> None:
    history: list[list[float]] = []
    for second in range(0, 30, 3):
        history = record_progress(history, float(second), "THROTTLED", None)
    # Only the latest queued reading is kept: it is the best bound on when the work started.
    assert history == [[27.0, 0.0]]
    for second in range(30, 1030):
        history = record_progress(history, float(second), "RUNNING", (second - 29) / 2000.0)
    assert len(history) == POLICY.history_size
    assert history[0] == [27.0, 0.0]
    assert history[-1] == [1029.0, pytest.approx(0.5)]
    assert [t for t, _ in history] == sorted(t for t, _ in history)
    # A terminal reading adds nothing: the job is done polling.
    assert record_progress(history, 1030.0, "SUCCEEDED", None) == history


def test_bounds_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="min_interval_s"):
        PollingPolicy(min_interval_s=30.0, max_interval_s=10.0)


def test_a_young_running_task_is_not_read_every_couple_of_seconds() -> None:
    # gen4.5 takes ~95 s: in its first 40 s a reading cannot show it near its end, however young
    # it is, so the looks are spread by the model's prior rather than by its age alone.
    rng = random.Random(5)
    history: list[list[float]] = []
    age, reads = 5.0, 0  # the bridge's first look comes 5 s after the submit
    while age < 40.0:
        history = record_progress(history, age, "RUNNING", 0.01 * age)
        delay = POLICY.next_poll_delay("RUNNING", MODEL, age, as_samples(history), age, rng=rng)
        assert delay >= 4.0
        reads += 1
        age += delay
    assert reads <= 5


def test_a_task_that_never_reports_progress_is_read_on_a_steady_loop_after_the_prior_says_it_could_end() -> (
    None
):
    reads = follow(lambda age: 0.0, horizon_s=200.0)
    early = [age for age, _ in reads if age < POLICY.first_poll_fraction * POLICY.typical_duration_s(MODEL)]
    assert len(early) <= 2  # no reading is spent where the prior says a finish is out of reach
    late = [delay for age, delay in reads if age >= POLICY.typical_duration_s(MODEL)]
    # Later, never longer apart than the steady loop (plus jitter): a finish is seen within it.
    assert late
    assert max(late) <= POLICY.unreported_interval_s * (1 + POLICY.jitter_fraction) + 1e-9


def test_a_learned_prior_needs_enough_finished_tasks_and_reads_their_median_and_early_tail() -> None:
    counts: dict[int, int] = {}
    durations = [20.0 + 2.0 * n for n in range(LEARNED_PRIOR_MIN_SAMPLES)]  # 20 s ... 58 s
    for seconds in durations[:-1]:
        counts[duration_bucket(seconds)] = counts.get(duration_bucket(seconds), 0) + 1
    assert learned_prior(counts) is None  # one short
    counts[duration_bucket(durations[-1])] = counts.get(duration_bucket(durations[-1]), 0) + 1
    prior = learned_prior(counts)
    assert prior is not None
    assert prior.typical_s == pytest.approx(39.0, rel=0.1)
    assert prior.earliest_s == pytest.approx(20.0, rel=0.1)
