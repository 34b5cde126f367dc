"""Polling policy simulation (run by hand): the poller's policy against the SDK's 6 s loop on the
emulator's task lives, with no HTTP and no waiting, so thousands of lives take seconds.

    .venv/bin/python bench/policy_sim.py                      # 300 lives of each kind
    .venv/bin/python bench/policy_sim.py --lives 1000 --seed 3
    .venv/bin/python bench/policy_sim.py --set get_worth_s=0.6 --set unreported_interval_s=4

Each life comes from the emulator's own plan (`make_life`: realistic, stairs, stall, silent, noisy;
a queue phase first), so a task's status and progress at any moment are exact. Two pollers read the
same lives:
- bridge: the first look 5 s after the submit (the submit path's first poll), then as
  `PollingPolicy.next_poll_delay` says, each look up to half a second late (a round's whole seconds);
  with the prior learned from other lives of the same mix (as a running bridge would have it), and
  once with the model table's prior (a bridge that has seen no task finish yet);
- loop: a GET every 6 s +-1.5 s from the submit, like the SDK's `wait_for_task_output`.
Notice is the first look that saw the task finished, minus its finish. It prints, per kind and
overall, median and p95 notice and reads per task for both, and the reads ratio. The stack-level
figures (what a user waits for, webhook included) come from bench/stack_lag.py.
"""

from __future__ import annotations

import argparse
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import get_args

from runway_bridge.logic.poller.policy import (
    DurationPrior,
    PollingPolicy,
    as_samples,
    duration_bucket,
    learned_prior,
    record_progress,
)
from runway_bridge_dev.emulator.config import EmulatorConfig, LifeKind
from runway_bridge_dev.emulator.lifecycle import TaskPlan, make_life

MODEL = "gen4.5"
CLIP_SECONDS = 5
FIRST_LOOK_S = 5.0
LOOP_S, LOOP_JITTER_S = 6.0, 3.0
ROUND_SLACK_S = 0.5


@dataclass
class Outcome:
    notice_s: list[float]
    reads: list[int]


def finish_of(plan: TaskPlan) -> float:
    return plan.pending_s + plan.throttled_s + plan.run_s


def read(plan: TaskPlan, at: float) -> tuple[str, float | None]:
    """What a GET at `at` seconds after the submit answers: status and progress."""
    started = plan.pending_s + plan.throttled_s
    if at < plan.pending_s:
        return "PENDING", None
    if at < started:
        return "THROTTLED", None
    if at >= finish_of(plan):
        return "SUCCEEDED", None
    if plan.curve is None:
        return "RUNNING", None
    return "RUNNING", plan.curve.at((at - started) / plan.run_s)


def bridge(
    policy: PollingPolicy, lives: Sequence[TaskPlan], prior: DurationPrior | None, seed: int
) -> Outcome:
    rng = random.Random(seed)
    outcome = Outcome([], [])
    for plan in lives:
        history: list[list[float]] = []
        at, reads = FIRST_LOOK_S, 0
        while True:
            reads += 1
            status, progress = read(plan, at)
            if status == "SUCCEEDED":
                outcome.notice_s.append(at - finish_of(plan))
                outcome.reads.append(reads)
                break
            history = record_progress(history, at, status, progress, limit=policy.history_size)
            delay = policy.next_poll_delay(
                status, MODEL, at, as_samples(history), at, clip_seconds=CLIP_SECONDS, prior=prior, rng=rng
            )
            at += delay + rng.uniform(0.0, ROUND_SLACK_S)
    return outcome


def loop(lives: Sequence[TaskPlan], seed: int) -> Outcome:
    rng = random.Random(seed)
    outcome = Outcome([], [])
    for plan in lives:
        at, reads = 0.0, 0
        while True:
            at += LOOP_S + rng.uniform(-LOOP_JITTER_S / 2, LOOP_JITTER_S / 2)
            reads += 1
            if at >= finish_of(plan):
                outcome.notice_s.append(at - finish_of(plan))
                outcome.reads.append(reads)
                break
    return outcome


def p95(values: Sequence[float]) -> float:
    return sorted(values)[int(0.95 * (len(values) - 1))]


def row(name: str, ours: Outcome, theirs: Outcome) -> str:
    ratio = statistics.mean(ours.reads) / statistics.mean(theirs.reads)
    return (
        f"{name:<10} {statistics.median(ours.notice_s):7.2f} s {statistics.median(theirs.notice_s):6.2f} s"
        f" {p95(ours.notice_s):8.2f} s {p95(theirs.notice_s):6.2f} s"
        f" {statistics.mean(ours.reads):9.2f} {statistics.mean(theirs.reads):6.2f} {ratio:7.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lives", type=int, default=300, help="lives of each kind")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--set", action="append", default=[], help="a policy field, e.g. get_worth_s=0.6")
    args = parser.parse_args()
    policy = PollingPolicy(
        **{name: float(value) for name, value in (item.split("=", 1) for item in args.set)}
    )
    config = EmulatorConfig(profile="realistic")
    kinds: list[LifeKind] = list(get_args(LifeKind))

    def lives_of(kind: LifeKind, count: int, seed: int) -> list[TaskPlan]:
        rng = random.Random(seed)
        return [make_life(kind, config, MODEL, CLIP_SECONDS, rng) for _ in range(count)]

    counts: dict[int, int] = {}
    for kind in kinds:  # what a bridge that ran this mix before has learned
        for plan in lives_of(kind, 40, args.seed + 1000):
            bucket = duration_bucket(finish_of(plan))
            counts[bucket] = counts.get(bucket, 0) + 1
    learned = learned_prior(counts)
    assert learned is not None
    print(
        f"{args.lives} lives of each kind; learned prior: typical {learned.typical_s:.0f} s, "
        f"earliest {learned.earliest_s:.0f} s; policy overrides: {args.set or 'none'}"
    )
    for title, prior in (("learned prior", learned), ("model table's prior", None)):
        print(f"\n{title}: bridge policy vs 6 s loop (notice = first look that saw it finished - finish)")
        print(f"{'life':<10} {'median':>9} {'loop':>8} {'p95':>10} {'loop':>8}", end="")
        print(f" {'reads':>9} {'loop':>6} {'ratio':>8}")
        all_ours, all_theirs = Outcome([], []), Outcome([], [])
        for index, kind in enumerate(kinds):
            lives = lives_of(kind, args.lives, args.seed + index)
            ours, theirs = bridge(policy, lives, prior, args.seed), loop(lives, args.seed)
            print(row(kind, ours, theirs))
            for total, part in ((all_ours, ours), (all_theirs, theirs)):
                total.notice_s += part.notice_s
                total.reads += part.reads
        print(row("overall", all_ours, all_theirs))


if __name__ == "__main__":
    main()
