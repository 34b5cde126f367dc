"""Polling benchmark (run by hand): notice delay and Runway GETs per task, adaptive vs fixed 6 s.

    .venv/bin/python bench/polling_lag.py                       # 100 tasks, clock 5x (~40 s)
    .venv/bin/python bench/polling_lag.py --tasks 40 --clock-speed 20 --seed 7

The Runway emulator runs in the realistic profile (30 s - 3 min per task, uneven progress: plateaus,
jumps, noise) with its clock sped up; the tasks are created through `RunwayClient`. Two pollers then
watch the same tasks at once, each in its own thread with its own client:
- adaptive: each task is read when `PollingPolicy` says (first GET from the model's prior, then from
  its progress history);
- fixed: each task is read every 6 s, like the SDK's `wait_for_task_output`.
For each task, the first GET that shows it SUCCEEDED/FAILED is compared with when the emulator's plan
says it really finished (`finishesAtWallClock`). Every figure is converted back to emulated seconds.
"""

from __future__ import annotations

import argparse
import heapq
import random
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from runway_bridge.adapters.runway.client import RunwayClient
from runway_bridge.logic.poller.policy import PollingPolicy, as_samples, record_progress
from runway_bridge.models.operations import Operation
from runway_bridge_dev.emulator import EmulatorConfig, RunwayEmulator

IMAGE = "https://media.example.com/input.png"
VIDEO = "https://media.example.com/input.mp4"
FIXED_INTERVAL_S = 6.0
# (operation, body, clip seconds): a spread of model families and clip lengths.
WORKLOAD: list[tuple[Operation, dict[str, Any], int]] = [
    ("image_to_video", {"model": "gen4_turbo", "promptImage": IMAGE, "ratio": "1280:720", "duration": 5}, 5),
    (
        "image_to_video",
        {"model": "gen4_turbo", "promptImage": IMAGE, "ratio": "1280:720", "duration": 10},
        10,
    ),
    (
        "text_to_video",
        {"model": "gen4.5", "promptText": "a lighthouse", "ratio": "1280:720", "duration": 5},
        5,
    ),
    (
        "text_to_video",
        {"model": "gen4.5", "promptText": "a lighthouse", "ratio": "1280:720", "duration": 10},
        10,
    ),
    ("video_to_video", {"model": "gen4_aleph", "promptVideo": VIDEO, "promptText": "make it snow"}, 5),
    ("video_upscale", {"model": "upscale_v1", "videoUri": VIDEO}, 5),
]


@dataclass
class Watched:
    task_id: str
    model: str
    clip_seconds: int
    created_wall: float
    history: list[list[float]] = field(default_factory=list)
    gets: int = 0
    noticed_wall: float | None = None


class Poller(threading.Thread):
    """Reads each task when `next_delay` says (emulated seconds) until it is terminal."""

    def __init__(
        self,
        name: str,
        client: RunwayClient,
        tasks: list[Watched],
        speed: float,
        first_delay: Callable[[Watched], float],
        next_delay: Callable[[Watched, str, float], float],
    ) -> None:
        super().__init__(name=name, daemon=True)
        self.client = client
        self.tasks = tasks
        self.speed = speed
        self.first_delay = first_delay
        self.next_delay = next_delay

    def run(self) -> None:
        due: list[tuple[float, int]] = [
            (task.created_wall + self.first_delay(task) / self.speed, index)
            for index, task in enumerate(self.tasks)
        ]
        heapq.heapify(due)
        while due:
            at, index = heapq.heappop(due)
            time.sleep(max(0.0, at - time.time()))
            task = self.tasks[index]
            read = self.client.get_task(task.task_id, budget_s=10)
            now_wall = time.time()
            task.gets += 1
            if read.status in {"SUCCEEDED", "FAILED", "CANCELLED"}:
                task.noticed_wall = now_wall
                continue
            age_s = (now_wall - task.created_wall) * self.speed
            progress = getattr(read, "progress", None)
            task.history = record_progress(task.history, age_s, read.status, progress)
            heapq.heappush(due, (now_wall + self.next_delay(task, read.status, age_s) / self.speed, index))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=100)
    # Faster clocks shrink the work per wall second and both pollers fall behind (one process, one
    # GIL): at 10x the fixed loop read ~11 times per task where it should read ~15.
    parser.add_argument("--clock-speed", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    speed: float = args.clock_speed
    policy = PollingPolicy()
    jitter = random.Random(args.seed)  # spreading polls, not security

    config = EmulatorConfig(profile="realistic", clock_speed=speed, seed=args.seed)
    with RunwayEmulator(config) as emu:
        adaptive_client = RunwayClient(emu.base_url, emu.api_key)
        fixed_client = RunwayClient(emu.base_url, emu.api_key)
        adaptive: list[Watched] = []
        fixed: list[Watched] = []
        for index in range(args.tasks):
            operation, body, clip_seconds = WORKLOAD[index % len(WORKLOAD)]
            task_id = adaptive_client.create_task(operation, body, budget_s=10)
            created = time.time()
            adaptive.append(Watched(task_id, str(body["model"]), clip_seconds, created))
            fixed.append(Watched(task_id, str(body["model"]), clip_seconds, created))

        # The policy's clock is the task's age in emulated seconds, so history times are ages too.
        def adaptive_next(task: Watched, status: str, age_s: float) -> float:
            return policy.next_poll_delay(
                status,
                task.model,
                age_s,
                as_samples(task.history),
                age_s,
                clip_seconds=task.clip_seconds,
                rng=jitter,
            )

        pollers = [
            Poller(
                "adaptive",
                adaptive_client,
                adaptive,
                speed,
                lambda task: policy.first_poll_delay(task.model, task.clip_seconds, jitter),
                adaptive_next,
            ),
            Poller(
                "fixed",
                fixed_client,
                fixed,
                speed,
                lambda _task: FIXED_INTERVAL_S,
                lambda *_: FIXED_INTERVAL_S,
            ),
        ]
        started = time.time()
        for poller in pollers:
            poller.start()
        for poller in pollers:
            poller.join()
        wall_s = time.time() - started
        plans = {report["id"]: report for report in emu.tasks()}
        adaptive_client.close()
        fixed_client.close()

    durations = [float(plans[task.task_id]["totalSeconds"]) for task in adaptive]
    print(
        f"{args.tasks} tasks, realistic profile, clock x{speed:g} (wall {wall_s:.1f} s); "
        f"task durations {min(durations):.0f}-{max(durations):.0f} s, "
        f"median {statistics.median(durations):.0f} s"
    )
    print("all figures in emulated seconds")
    header = ("median delay", "p95 delay", "max delay", "GETs/task", "GETs total")
    print(f"{'poller':<10}" + "".join(f"{column:>14}" for column in header))
    for name, watched in (("adaptive", adaptive), ("fixed 6 s", fixed)):
        delays = []
        for task in watched:
            finished_wall = datetime.fromisoformat(plans[task.task_id]["finishesAtWallClock"]).timestamp()
            assert task.noticed_wall is not None
            delays.append((task.noticed_wall - finished_wall) * speed)
        gets = [task.gets for task in watched]
        print(
            f"{name:<10}{statistics.median(delays):>14.2f}{percentile(delays, 0.95):>14.2f}"
            f"{max(delays):>14.2f}{statistics.mean(gets):>14.2f}{sum(gets):>14}"
        )


if __name__ == "__main__":
    main()
