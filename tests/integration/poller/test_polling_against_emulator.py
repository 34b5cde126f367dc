"""The policy driving real GETs over loopback against the Runway emulator's realistic profile (uneven
progress, 30-90 s per task, clock sped up): finished tasks are noticed sooner than a fixed 6 s loop
would notice them, with no more GETs."""

from __future__ import annotations

import heapq
import math
import random
import statistics
import time
from datetime import datetime
from typing import Any

from runway_bridge.adapters.runway.client import RunwayClient
from runway_bridge.logic.poller.policy import PollingPolicy, as_samples, record_progress
from runway_bridge.models.operations import Operation
from runway_bridge_dev.emulator import EmulatorConfig, RunwayEmulator

CLOCK_SPEED = 40.0
IMAGE = "https://media.example.com/input.png"
# (operation, body, model, clip seconds)
WORKLOAD: list[tuple[Operation, dict[str, Any], str, int]] = [
    (
        "image_to_video",
        {"model": "gen4_turbo", "promptImage": IMAGE, "ratio": "1280:720", "duration": 5},
        "gen4_turbo",
        5,
    ),
    (
        "image_to_video",
        {"model": "gen4_turbo", "promptImage": IMAGE, "ratio": "1280:720", "duration": 10},
        "gen4_turbo",
        10,
    ),
    (
        "text_to_video",
        {"model": "gen4.5", "promptText": "a lighthouse", "ratio": "1280:720", "duration": 5},
        "gen4.5",
        5,
    ),
]


def test_adaptive_polling_notices_finished_tasks_sooner_than_a_6s_loop_with_no_more_gets() -> None:
    policy = PollingPolicy()
    rng = random.Random(8)
    # Durations capped at 90 s keep the test short; progress is as uneven as ever.
    config = EmulatorConfig(profile="realistic", clock_speed=CLOCK_SPEED, seed=21, max_duration_s=90.0)
    with RunwayEmulator(config) as emu, RunwayClient(emu.base_url, emu.api_key) as client:
        created: dict[str, float] = {}
        models: dict[str, tuple[str, int]] = {}
        due: list[tuple[float, str]] = []
        for index in range(6):
            operation, body, model, clip = WORKLOAD[index % len(WORKLOAD)]
            task_id = client.create_task(operation, body, budget_s=5)
            created[task_id] = time.time()
            models[task_id] = (model, clip)
            first = policy.first_poll_delay(*models[task_id], rng)
            heapq.heappush(due, (created[task_id] + first / CLOCK_SPEED, task_id))
        histories: dict[str, list[list[float]]] = {task_id: [] for task_id in created}
        gets: dict[str, int] = dict.fromkeys(created, 0)
        noticed: dict[str, float] = {}
        while due:
            at, task_id = heapq.heappop(due)
            time.sleep(max(0.0, at - time.time()))
            task = client.get_task(task_id, budget_s=5)
            now = time.time()
            gets[task_id] += 1
            if task.status in {"SUCCEEDED", "FAILED"}:
                noticed[task_id] = now
                continue
            age = (now - created[task_id]) * CLOCK_SPEED
            model, clip = models[task_id]
            histories[task_id] = record_progress(
                histories[task_id], age, task.status, getattr(task, "progress", None)
            )
            delay = policy.next_poll_delay(
                task.status, model, age, as_samples(histories[task_id]), age, clip_seconds=clip, rng=rng
            )
            heapq.heappush(due, (now + delay / CLOCK_SPEED, task_id))
        plans = {report["id"]: report for report in emu.tasks()}

    delays = []
    fixed_loop_gets = 0
    for task_id, seen_at in noticed.items():
        finished_at = datetime.fromisoformat(plans[task_id]["finishesAtWallClock"]).timestamp()
        delays.append((seen_at - finished_at) * CLOCK_SPEED)
        fixed_loop_gets += math.ceil(float(plans[task_id]["totalSeconds"]) / 6.0)
    assert len(noticed) == 6
    # Noticed after the finish (never a GET before it claiming success), and soon after it.
    assert min(delays) >= -0.5
    # The policy spends its reads near the likely finish: a median notice well under the fixed
    # loop's ~3 s, with no more reads than the loop makes (about 0.75x over many lives).
    assert statistics.median(delays) <= 4.0, delays
    assert max(delays) <= 30.0, delays
    assert sum(gets.values()) <= fixed_loop_gets, (gets, fixed_loop_gets)
