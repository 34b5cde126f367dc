"""Stack-level lag benchmark (run by hand): the whole local bridge against the official SDK's
`wait_for_task_output` loop, on twin tasks with identical lives.

    .venv/bin/python bench/stack_lag.py                          # 40 pairs, about 5 minutes
    .venv/bin/python bench/stack_lag.py --pairs 20 --seed 3 --lives realistic,stall,silent
    .venv/bin/python bench/stack_lag.py --warm-up 25       # a bridge that has learned its priors

The local stack runs in this process as `make dev` runs it (template defaults), its Runway emulator
at real speed (the poller's waits are real time) with `twin_lives`: two creates with the same body get
the same life. A receiver on 127.0.0.1 verifies every webhook signature with `standardwebhooks`.

Each pair has a prompt of its own that picks its life kind (`[life:<kind>]`, kinds taken in turn from
--lives), and the pairs start staggered over --spread-s so they do not all finish together. Per pair:
- bridge: the job is created through the bridge API with a callbackUrl; its lag runs from the moment
  its Runway task finished (the emulator's plan) to the verified webhook's arrival, split into
  detection (until the poller's first GET that showed the task finished) and the rest (copy, events,
  delivery);
- SDK: its twin is created directly at the emulator by `runwayml`'s `text_to_video.create` and awaited
  by `wait_for_task_output()` in a thread of its own (a GET every 6 s +-1.5 s); its lag runs from its
  task's finish to the call's return.
GETs per task are what the emulator served for that task id (the copier's re-reads included).
The goals printed are the bridge's: median lag <= the SDK loop's and <= 2 s, p95 <= the SDK loop's,
GETs per task <= 0.6x the SDK loop's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

import httpx
import runwayml

from runway_bridge_dev.emulator import EmulatorConfig
from runway_bridge_dev.emulator.config import LifeKind
from runway_bridge_dev.local.stack import LocalStack
from runway_bridge_dev.webhooks import WebhookArrivals, allow_loopback_callbacks, webhook_receiver

MODEL: Literal["gen4.5"] = "gen4.5"
RATIO: Literal["1280:720"] = "1280:720"
CLIP_SECONDS = 5
GOAL_MEDIAN_S = 2.0
GOAL_GETS_RATIO = 0.6
FINAL_EVENTS = {"task.succeeded", "task.failed", "task.cancelled"}


@dataclass
class Pair:
    index: int
    life: str
    prompt: str
    job_id: str | None = None
    sdk_task_id: str | None = None
    sdk_returned_wall: float | None = None
    sdk_error: str | None = None
    bridge_error: str | None = None


@dataclass
class Side:
    lag_s: float
    gets: int
    detection_s: float | None = None


def run_pair(pair: Pair, api: httpx.Client, sdk: runwayml.RunwayML, callback_url: str) -> None:
    """Create the bridge job, then its twin at the emulator, and wait for the twin like an SDK user."""
    body = {"model": MODEL, "promptText": pair.prompt, "ratio": RATIO, "duration": CLIP_SECONDS}
    try:
        answer = api.post("/v1/text_to_video", json={**body, "callbackUrl": callback_url})
        answer.raise_for_status()
        pair.job_id = str(answer.json()["id"])
    except httpx.HTTPError as exc:
        pair.bridge_error = repr(exc)
    try:
        created = sdk.text_to_video.create(
            model=MODEL, prompt_text=pair.prompt, ratio=RATIO, duration=CLIP_SECONDS
        )
        pair.sdk_task_id = created.id
        created.wait_for_task_output(timeout=600)
        pair.sdk_returned_wall = time.time()
    except (runwayml.RunwayMLError, runwayml.TaskFailedError, runwayml.TaskTimeoutError) as exc:
        pair.sdk_error = repr(exc)


def wall(report: dict[str, Any], key: str) -> float | None:
    value = report.get(key)
    return None if value is None else datetime.fromisoformat(value).timestamp()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def twins_match(one: dict[str, Any], other: dict[str, Any]) -> bool:
    keys = ("life", "totalSeconds", "pendingSeconds", "throttledSeconds", "failureCode")
    return all(one[key] == other[key] for key in keys)


def measure(
    pairs: list[Pair], reports: list[dict[str, Any]], webhooks: dict[str, float]
) -> tuple[dict[str, list[tuple[Side, Side]]], list[str]]:
    """Per life kind, (bridge, SDK) figures of every complete pair; and what went wrong elsewhere."""
    by_prompt: dict[str, list[dict[str, Any]]] = {}
    for report in reports:
        by_prompt.setdefault(report["promptText"] or "", []).append(report)
    results: dict[str, list[tuple[Side, Side]]] = {}
    problems: list[str] = []
    for pair in pairs:
        label = f"pair {pair.index} ({pair.life})"
        if pair.bridge_error or pair.sdk_error:
            problems.append(f"{label}: bridge {pair.bridge_error}, SDK {pair.sdk_error}")
            continue
        tasks = by_prompt.get(pair.prompt, [])
        sdk_task = next((task for task in tasks if task["id"] == pair.sdk_task_id), None)
        bridge_tasks = [task for task in tasks if task["id"] != pair.sdk_task_id]
        if sdk_task is None or len(bridge_tasks) != 1:
            problems.append(f"{label}: {len(bridge_tasks)} Runway tasks for the bridge job")
            continue
        bridge_task = bridge_tasks[0]
        if not twins_match(bridge_task, sdk_task):
            problems.append(f"{label}: the twins' lives differ (the bridge changed the body?)")
            continue
        arrived = webhooks.get(pair.job_id or "")
        if arrived is None or pair.sdk_returned_wall is None:
            problems.append(f"{label}: no final webhook" if arrived is None else f"{label}: SDK not back")
            continue
        bridge_done = wall(bridge_task, "finishesAtWallClock") or 0.0
        seen = wall(bridge_task, "firstFinalReadAtWallClock")
        bridge = Side(
            lag_s=arrived - bridge_done,
            gets=int(bridge_task["gets"]),
            detection_s=None if seen is None else seen - bridge_done,
        )
        sdk = Side(
            lag_s=pair.sdk_returned_wall - (wall(sdk_task, "finishesAtWallClock") or 0.0),
            gets=int(sdk_task["gets"]),
        )
        results.setdefault(pair.life, []).append((bridge, sdk))
    return results, problems


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def print_figures(results: dict[str, list[tuple[Side, Side]]], kinds: list[str]) -> None:
    groups = [(kind, results.get(kind, [])) for kind in kinds]
    groups.append(("overall", [pair for kind in kinds for pair in results.get(kind, [])]))
    print("lag: Runway task finished -> bridge: verified webhook / SDK: wait_for_task_output returns")
    header = (
        f"{'life':<10}{'n':>4}  {'median bridge':>13} {'SDK':>6}  {'p95 bridge':>10} {'SDK':>6}"
        f"  {'GETs bridge':>11} {'SDK':>6}  {'detect med':>10} {'rest med':>8}"
    )
    print(header)
    for name, pairs in groups:
        if not pairs:
            print(f"{name:<10}{0:>4}  (no complete pair)")
            continue
        bridge_lag = [bridge.lag_s for bridge, _ in pairs]
        sdk_lag = [sdk.lag_s for _, sdk in pairs]
        detections = [bridge.detection_s for bridge, _ in pairs if bridge.detection_s is not None]
        rests = [bridge.lag_s - bridge.detection_s for bridge, _ in pairs if bridge.detection_s is not None]
        print(
            f"{name:<10}{len(pairs):>4}  {statistics.median(bridge_lag):>11.2f} s"
            f" {statistics.median(sdk_lag):>4.2f} s"
            f"  {percentile(bridge_lag, 0.95):>8.2f} s {percentile(sdk_lag, 0.95):>4.2f} s"
            f"  {statistics.mean(bridge.gets for bridge, _ in pairs):>11.2f}"
            f" {statistics.mean(sdk.gets for _, sdk in pairs):>6.2f}"
            f"  {statistics.median(detections) if detections else float('nan'):>8.2f} s"
            f" {statistics.median(rests) if rests else float('nan'):>6.2f} s"
        )
    print()
    print("goals (bridge vs the SDK loop)")
    for name, pairs in groups:
        if not pairs:
            continue
        bridge_median = statistics.median(bridge.lag_s for bridge, _ in pairs)
        sdk_median = statistics.median(sdk.lag_s for _, sdk in pairs)
        bridge_p95 = percentile([bridge.lag_s for bridge, _ in pairs], 0.95)
        sdk_p95 = percentile([sdk.lag_s for _, sdk in pairs], 0.95)
        gets_ratio = statistics.mean(bridge.gets for bridge, _ in pairs) / statistics.mean(
            sdk.gets for _, sdk in pairs
        )
        print(
            f"{name:<10} median {bridge_median:.2f} s <= SDK {sdk_median:.2f} s "
            f"(x{bridge_median / sdk_median:.2f}): {verdict(bridge_median <= sdk_median)};"
            f" <= {GOAL_MEDIAN_S:g} s: {verdict(bridge_median <= GOAL_MEDIAN_S)};"
            f" p95 {bridge_p95:.2f} s <= SDK {sdk_p95:.2f} s: {verdict(bridge_p95 <= sdk_p95)};"
            f" GETs x{gets_ratio:.2f} <= x{GOAL_GETS_RATIO:g}: {verdict(gets_ratio <= GOAL_GETS_RATIO)}"
        )


def warm_up(
    api: httpx.Client,
    callback_url: str,
    arrivals: WebhookArrivals,
    kinds: list[str],
    jobs: int,
    seed: int,
    timeout_s: float,
) -> None:
    """Run `jobs` bridge jobs of the same mix to their webhook, not measured."""
    started = time.monotonic()
    job_ids: set[str] = set()
    for index in range(jobs):
        kind = kinds[index % len(kinds)]
        prompt = f"[life:{kind}] warm-up {index} seed {seed}: a lighthouse at dusk"
        body = {"model": MODEL, "promptText": prompt, "ratio": RATIO, "duration": CLIP_SECONDS}
        answer = api.post("/v1/text_to_video", json={**body, "callbackUrl": callback_url})
        answer.raise_for_status()
        job_ids.add(str(answer.json()["id"]))
    while len(arrivals.first_by_job(FINAL_EVENTS).keys() & job_ids) < jobs:
        if time.monotonic() - started > timeout_s:
            raise SystemExit("the warm-up jobs did not all finish")
        time.sleep(1.0)
    print(f"warm-up: {jobs} jobs finished in {time.monotonic() - started:.0f} s (not measured)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--lives",
        default=",".join(get_args(LifeKind)),
        help="life kinds, comma-separated, taken in turn by the pairs (default: all)",
    )
    parser.add_argument("--spread-s", type=float, default=90.0, help="pairs start over this many seconds")
    parser.add_argument(
        "--warm-up",
        type=int,
        default=0,
        help="bridge jobs (same mix of lives) run to the end before the pairs, so the bridge has learned "
        "how long such tasks take, as one that has been running would have (20 make a learned prior)",
    )
    parser.add_argument("--timeout-s", type=float, default=420.0, help="after the last pair started")
    args = parser.parse_args()
    kinds = [kind.strip() for kind in args.lives.split(",") if kind.strip()]
    unknown = sorted(set(kinds) - set(get_args(LifeKind)))
    if unknown or not kinds:
        parser.error(f"--lives: unknown kinds {unknown}; known: {', '.join(get_args(LifeKind))}")

    # The receiver is plain HTTP on loopback, as with `make dev`.
    allow_loopback_callbacks()
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")  # no EMF lines between the figures
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    print(f"load average at start: {' '.join(f'{load:.2f}' for load in os.getloadavg())}", flush=True)
    started = time.monotonic()
    config = EmulatorConfig(
        profile="realistic", lives=dict.fromkeys(kinds, 1.0), twin_lives=True, seed=args.seed, clock_speed=1.0
    )
    stack = LocalStack(emulator_config=config, parameters={"LogLevel": "WARNING"}).start()
    assert stack.emulator is not None
    emulator = stack.emulator
    print(f"stack up in {time.monotonic() - started:.1f} s", flush=True)
    try:
        from runway_bridge_dev.keys_cli import create_key  # noqa: PLC0415  (needs the stack's environment)

        created = create_key("bench-stack-lag", "bench")
        arrivals = WebhookArrivals()
        pairs = [
            Pair(index, kind, f"[life:{kind}] bench pair {index} seed {args.seed}: a lighthouse at dusk")
            for index, kind in enumerate(kinds[index % len(kinds)] for index in range(args.pairs))
        ]
        headers = {"Authorization": f"Bearer {created.api_key}"}
        with (
            webhook_receiver(created.webhook_secret or "", arrivals) as url,
            httpx.Client(base_url=stack.api_url, timeout=30, headers=headers) as api,
            runwayml.RunwayML(api_key=emulator.api_key, base_url=emulator.base_url) as sdk,
        ):
            if args.warm_up:
                warm_up(api, url, arrivals, kinds, args.warm_up, args.seed, args.timeout_s)
            threads = []
            first_start = time.monotonic()
            for pair in pairs:
                time.sleep(max(0.0, first_start + pair.index * args.spread_s / args.pairs - time.monotonic()))
                thread = threading.Thread(target=run_pair, args=(pair, api, sdk, url), daemon=True)
                thread.start()
                threads.append(thread)
            print(f"{len(pairs)} pairs started over {args.spread_s:g} s", flush=True)
            deadline = time.monotonic() + args.timeout_s
            shown = progress = ""
            while time.monotonic() < deadline:
                hooks = len(arrivals.first_by_job(FINAL_EVENTS).keys() & {pair.job_id for pair in pairs})
                sdk_back = sum(1 for thread in threads if not thread.is_alive())
                progress = f"  webhooks {hooks}/{len(pairs)}  SDK loops back {sdk_back}/{len(pairs)}"
                if progress != shown and sys.stdout.isatty():
                    print(f"\r{progress}", end="", flush=True)
                    shown = progress
                if hooks >= len(pairs) and sdk_back >= len(pairs):
                    break
                time.sleep(0.5)
            # On a terminal the last count is on screen already; in a log it is printed once.
            print("" if sys.stdout.isatty() else progress.strip())
            webhooks = arrivals.first_by_job(FINAL_EVENTS)
            reports = emulator.tasks()
        print(
            f"run took {time.monotonic() - started:.0f} s; load average now: "
            f"{' '.join(f'{load:.2f}' for load in os.getloadavg())}"
        )
        if arrivals.rejected:
            print(f"{arrivals.rejected} webhooks failed signature verification")
        totals = [float(report["totalSeconds"]) for report in reports]
        if totals:
            print(
                f"{len(reports)} Runway tasks, lives {min(totals):.0f}-{max(totals):.0f} s, "
                f"median {statistics.median(totals):.0f} s; seed {args.seed}"
            )
        results, problems = measure(pairs, reports, webhooks)
        for problem in problems:
            print(f"left out: {problem}")
        print()
        print_figures(results, kinds)
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
