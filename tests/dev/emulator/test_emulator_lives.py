"""Task lives (`EmulatorConfig.lives`), twin tasks (`twin_lives`) and the per-task read log a benchmark
uses: what a client polling the emulator sees, at chosen moments of the emulator clock."""

from __future__ import annotations

import itertools
import random
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from runwayml.types.task_retrieve_response import Throttled

from runway_bridge.models.runway import RunningTask, ThrottledTask, parse_task
from runway_bridge_dev.emulator import EmulatorConfig, RunwayEmulator
from runway_bridge_dev.emulator.lifecycle import LIFE_MAX_S, LIFE_MIN_S, TaskPlan, make_plan
from runway_bridge_dev.emulator.state import EmulatedTask, EmulatorState
from tests.dev.emulator.conftest import FAST_CLOCK, TEXT_TO_VIDEO, api_client, create_task, wait_for_task

KINDS = ("stairs", "stall", "silent", "noisy")


def plans(kind: str, count: int = 60, seed: int = 3) -> list[TaskPlan]:
    config = EmulatorConfig(lives={kind: 1.0})  # type: ignore[dict-item]
    rng = random.Random(seed)
    return [make_plan(config, "gen4.5", 5, "a prompt", rng) for _ in range(count)]


def progress_samples(plan: TaskPlan, count: int = 400) -> list[float]:
    assert plan.curve is not None
    return [plan.curve.at(index / count) for index in range(count + 1)]


class FrozenClock:
    """Stands in for the emulator clock: reads what the test sets."""

    def __init__(self, now: float) -> None:
        self.value = now
        self.speed = 1.0

    def now(self) -> float:
        return self.value

    def wall_time_of(self, emulated: float) -> float:
        return emulated


def state_with_frozen_clock(config: EmulatorConfig) -> tuple[EmulatorState, FrozenClock]:
    state = EmulatorState(config)
    clock = FrozenClock(1_000_000.0)
    state.clock = clock  # type: ignore[assignment]
    return state, clock


def answer_at(state: EmulatorState, task: EmulatedTask, clock: FrozenClock, now: float) -> dict[str, Any]:
    clock.value = now
    return state.task_json(task, lambda *_: "http://127.0.0.1/out.mp4")


@pytest.mark.parametrize("kind", KINDS)
def test_each_life_lasts_20_s_to_2_5_min_with_a_queue_phase_first(kind: str) -> None:
    assert (LIFE_MIN_S, LIFE_MAX_S) == (20.0, 150.0)
    drawn = plans(kind)
    for plan in drawn:
        total = plan.pending_s + plan.throttled_s + plan.run_s
        assert 20.0 <= total <= 150.0
        assert plan.pending_s > 0
        assert plan.run_s > 0.6 * total
        assert plan.life == kind
    # Some wait THROTTLED after PENDING, some do not.
    assert any(plan.throttled_s > 0 for plan in drawn)
    assert any(plan.throttled_s == 0 for plan in drawn)
    # Spread over the range, not one fixed length.
    totals = [plan.pending_s + plan.throttled_s + plan.run_s for plan in drawn]
    assert min(totals) < 50
    assert max(totals) > 120


def test_stairs_progress_climbs_in_steps_with_flat_treads() -> None:
    for plan in plans("stairs"):
        samples = progress_samples(plan)
        steps = [later - earlier for earlier, later in itertools.pairwise(samples)]
        assert all(step >= 0 for step in steps)
        # Most of the time nothing moves; the climb happens in a few short risers.
        assert sum(1 for step in steps if step == 0) > 0.7 * len(steps)
        risers = "".join("r" if step > 0 else "." for step in steps).split(".")
        risers = [riser for riser in risers if riser]
        assert 3 <= len(risers) <= 7
        assert all(len(riser) < 0.05 * len(steps) for riser in risers)
        assert 0.9 < samples[-1] < 1.0


def test_stall_progress_stands_still_for_a_long_part_of_the_run() -> None:
    for plan in plans("stall"):
        samples = progress_samples(plan)
        level = max(set(samples[1:-1]), key=samples.count)
        flat_share = samples.count(level) / len(samples)
        assert flat_share >= 0.38
        assert 0.2 < level < 0.85  # part-way, not at the start or the end
        assert samples == sorted(samples)
        assert samples[-1] > level


def test_noisy_progress_goes_backwards_at_times_but_ends_near_the_top() -> None:
    drawn = plans("noisy")
    for plan in drawn:
        samples = progress_samples(plan)
        assert all(0.0 <= value <= 1.0 for value in samples)
        assert samples[-1] > 0.9
    assert all(
        any(later < earlier for earlier, later in itertools.pairwise(samples))
        for samples in map(progress_samples, drawn)
    )


def test_silent_task_runs_without_a_progress_field_that_clients_still_read_as_running() -> None:
    state, clock = state_with_frozen_clock(EmulatorConfig(lives={"silent": 1.0}, seed=1))
    task = state.create_task("text_to_video", dict(TEXT_TO_VIDEO))
    assert task is not None
    start = task.run_start
    mid_run = answer_at(state, task, clock, start + task.plan.run_s / 2)
    assert mid_run["status"] == "RUNNING"
    assert "progress" not in mid_run
    parsed = parse_task(mid_run)
    assert isinstance(parsed, RunningTask)
    assert parsed.progress is None
    assert answer_at(state, task, clock, start + task.plan.run_s + 0.001)["status"] == "SUCCEEDED"
    assert state.task_report(task)["progressReported"] is False


def test_queue_phase_is_pending_then_throttled_then_running() -> None:
    state, clock = state_with_frozen_clock(EmulatorConfig(lives={"stairs": 1.0}, seed=4))
    created = clock.value
    throttled = []
    for index in range(20):
        task = state.create_task("text_to_video", {**TEXT_TO_VIDEO, "promptText": f"p{index}"})
        assert task is not None
        if task.plan.throttled_s > 0:
            throttled.append(task)
    assert throttled
    task = throttled[0]
    pending_end = created + task.plan.pending_s
    throttle_end = pending_end + task.plan.throttled_s
    assert answer_at(state, task, clock, pending_end - 0.01)["status"] == "PENDING"
    in_throttle = answer_at(state, task, clock, (pending_end + throttle_end) / 2)
    assert in_throttle["status"] == "THROTTLED"
    assert isinstance(parse_task(in_throttle), ThrottledTask)
    Throttled.model_validate(in_throttle)
    running = answer_at(state, task, clock, throttle_end + 0.01)
    assert running["status"] == "RUNNING"
    assert running["progress"] == 0.0
    report = state.task_report(task)
    assert report["throttledSeconds"] > 0
    assert report["totalSeconds"] == pytest.approx(
        task.plan.pending_s + task.plan.throttled_s + task.plan.run_s, abs=0.001
    )


def test_a_mix_of_lives_gives_only_the_kinds_asked_for_all_of_them() -> None:
    config = EmulatorConfig(lives={"stall": 1.0, "silent": 1.0, "realistic": 1.0, "noisy": 0.0})
    rng = random.Random(5)
    kinds = [make_plan(config, "gen4.5", 5, "x", rng).life for _ in range(150)]
    assert set(kinds) == {"stall", "silent", "realistic"}


def test_lives_need_a_positive_weight() -> None:
    with pytest.raises(ValueError, match="weight"):
        EmulatorConfig(lives={"stall": 0.0})
    with pytest.raises(ValueError, match="weight"):
        EmulatorConfig(lives={"stall": -1.0, "silent": 2.0})
    with pytest.raises(ValueError, match="lives"):
        EmulatorConfig(lives={"sometimes": 1.0})  # type: ignore[dict-item]


def life_of(report: dict[str, Any]) -> tuple[Any, ...]:
    return (
        report["life"],
        report["totalSeconds"],
        report["pendingSeconds"],
        report["throttledSeconds"],
        report["failureCode"],
    )


def twin_bodies() -> list[dict[str, Any]]:
    return [{**TEXT_TO_VIDEO, "promptText": f"pair {index}: a lighthouse"} for index in range(6)]


def test_twin_creates_with_identical_bodies_get_identical_lives_and_different_ids() -> None:
    config = EmulatorConfig(lives=dict.fromkeys(KINDS, 1.0), twin_lives=True, seed=9)
    with RunwayEmulator(config) as emu, api_client(emu) as api:
        firsts = [create_task(api, **body) for body in twin_bodies()]
        # Other creates in between must not shift the twins' draws.
        create_task(api, promptText="an unrelated task")
        # The same fields in another order are the same request.
        seconds = [
            api.post("/v1/text_to_video", json=dict(reversed(list(body.items())))).json()["id"]
            for body in twin_bodies()
        ]
        reports = {report["id"]: report for report in emu.tasks()}
        probe = reports[firsts[0]]
        state = emu._state  # the plans themselves, curves included
        for first, second in zip(firsts, seconds, strict=True):
            assert first != second
            assert life_of(reports[first]) == life_of(reports[second])
            assert state.tasks[first].plan.curve == state.tasks[second].plan.curve
        # Different bodies get different lives.
        assert len({life_of(reports[task_id])[1] for task_id in firsts}) == len(firsts)
        assert probe["life"] in KINDS


def test_without_twin_lives_identical_bodies_get_different_lives() -> None:
    config = EmulatorConfig(lives=dict.fromkeys(KINDS, 1.0), seed=9)
    with RunwayEmulator(config) as emu, api_client(emu) as api:
        body = twin_bodies()[0]
        ids = [create_task(api, **body) for _ in range(2)]
        reports = {report["id"]: report for report in emu.tasks()}
        assert life_of(reports[ids[0]]) != life_of(reports[ids[1]])


def test_twin_lives_repeat_across_emulators_with_the_same_seed_only() -> None:
    def lives(seed: int) -> list[tuple[Any, ...]]:
        config = EmulatorConfig(lives=dict.fromkeys(KINDS, 1.0), twin_lives=True, seed=seed)
        with RunwayEmulator(config) as emu, api_client(emu) as api:
            for body in twin_bodies():
                create_task(api, **body)
            return [life_of(report) for report in emu.tasks()]

    assert lives(9) == lives(9)
    assert lives(9) != lives(10)


def test_the_report_counts_each_tasks_reads_and_when_one_first_showed_it_finished() -> None:
    config = EmulatorConfig(seed=2, clock_speed=FAST_CLOCK, durations={"gen4.5": 2.0})
    with RunwayEmulator(config) as emu, api_client(emu) as api:
        watched, other = create_task(api), create_task(api)
        api.get(f"/v1/tasks/{other}")
        assert api.get("/v1/tasks/00000000-0000-4000-8000-000000000000").status_code == 404
        before = datetime.now().astimezone() - timedelta(milliseconds=1)  # the report keeps ms
        _, seen = wait_for_task(api, watched)
        after = datetime.now().astimezone()
        reports = {report["id"]: report for report in emu.tasks()}
        assert reports[watched]["gets"] == len(seen)
        assert reports[other]["gets"] == 1
        assert reports[other]["firstFinalReadAtWallClock"] is None
        first_final = datetime.fromisoformat(reports[watched]["firstFinalReadAtWallClock"])
        assert before <= first_final <= after
        # Later reads add to the count but do not move the first final read.
        api.get(f"/v1/tasks/{watched}")
        again = next(report for report in emu.tasks() if report["id"] == watched)
        assert again["gets"] == len(seen) + 1
        assert again["firstFinalReadAtWallClock"] == reports[watched]["firstFinalReadAtWallClock"]


def test_the_read_log_is_served_by_the_admin_endpoint(emulator: RunwayEmulator, api: httpx.Client) -> None:
    task_id = create_task(api)
    api.get(f"/v1/tasks/{task_id}")
    api.get(f"/v1/tasks/{task_id}")
    (report,) = httpx.get(f"{emulator.base_url}/_emulator/tasks").json()
    assert report["gets"] == 2
    assert report["life"] == "fast"


def test_a_life_trigger_in_the_prompt_picks_the_kind_whatever_the_mix() -> None:
    rng = random.Random(6)
    plain = EmulatorConfig()
    mixed = EmulatorConfig(lives={"noisy": 1.0})
    for kind in (*KINDS, "realistic"):
        for config in (plain, mixed):
            plan = make_plan(config, "gen4.5", 5, f"a fox [life:{kind}] in snow", rng)
            assert plan.life == kind
    assert make_plan(plain, "gen4.5", 5, "[life:silent]", rng).curve is None
    # Unknown kinds and no trigger leave the choice to the config.
    assert make_plan(plain, "gen4.5", 5, "[life:sometimes] a fox", rng).life == "fast"
    assert make_plan(mixed, "gen4.5", 5, "[life:sometimes] a fox", rng).life == "noisy"
    assert make_plan(mixed, "gen4.5", 5, "a fox [life:stall", rng).life == "noisy"
