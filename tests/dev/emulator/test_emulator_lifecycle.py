"""Task lifecycle as a client sees it over HTTP: statuses, progress, costs, failures, queueing."""

from __future__ import annotations

import itertools
import time
from datetime import datetime

import httpx
import pytest
from runwayml.types.task_retrieve_response import Failed, Pending, Running, Succeeded

from runway_bridge.models.runway import FailedTask, SucceededTask, parse_task
from runway_bridge_dev.emulator import EmulatorConfig, RunwayEmulator
from tests.dev.emulator.conftest import FAST_CLOCK, api_client, create_task, wait_for_task


def test_task_goes_pending_running_succeeded_with_rising_progress(api: httpx.Client) -> None:
    task_id = create_task(api)
    final, seen = wait_for_task(api, task_id)

    statuses = [task["status"] for task in seen]
    assert statuses[0] == "PENDING"
    assert "RUNNING" in statuses
    assert final["status"] == "SUCCEEDED"
    # Order never goes backwards: PENDING*, RUNNING*, SUCCEEDED.
    order = {"PENDING": 0, "RUNNING": 1, "SUCCEEDED": 2}
    assert [order[status] for status in statuses] == sorted(order[status] for status in statuses)
    progress = [task["progress"] for task in seen if task["status"] == "RUNNING"]
    assert progress == sorted(progress)
    assert all(0.0 <= value <= 1.0 for value in progress)
    assert max(progress) > min(progress)

    # Shapes the official SDK and our own models accept.
    Pending.model_validate(seen[0])
    assert seen[0]["estimatedCost"]["credits"] > 0
    Running.model_validate(next(task for task in seen if task["status"] == "RUNNING"))
    Succeeded.model_validate(final)
    parsed = parse_task(final)
    assert isinstance(parsed, SucceededTask)
    assert isinstance(final["cost"]["credits"], int)
    assert final["output"][0].startswith("http://127.0.0.1:")
    datetime.fromisoformat(final["createdAt"])


def test_fast_profile_takes_about_six_emulated_seconds(emulator: RunwayEmulator, api: httpx.Client) -> None:
    started = time.monotonic()
    wait_for_task(api, create_task(api))
    elapsed_real = time.monotonic() - started
    planned = emulator.tasks()[0]["totalSeconds"]
    assert 5.0 <= planned <= 7.0
    # It cannot finish before its planned time (the upper bound only guards against a stuck clock).
    assert planned / FAST_CLOCK <= elapsed_real < 5.0


@pytest.mark.parametrize(
    ("prompt", "expected_code"),
    [
        ("a cat [fail] on a mat", "INTERNAL.BAD_OUTPUT.CODE01"),
        ("[fail:SAFETY.INPUT.TEXT] something rude", "SAFETY.INPUT.TEXT"),
    ],
)
def test_prompt_trigger_makes_the_task_fail_with_its_code(
    api: httpx.Client, prompt: str, expected_code: str
) -> None:
    final, _ = wait_for_task(api, create_task(api, promptText=prompt))
    assert final["status"] == "FAILED"
    assert final["failureCode"] == expected_code
    assert final["failure"]
    assert final["cost"] == {"credits": 0}
    assert "output" not in final
    Failed.model_validate(final)
    parsed = parse_task(final)
    assert isinstance(parsed, FailedTask)
    assert parsed.user_may_retry is expected_code.startswith("INTERNAL.")


def test_failure_rate_one_fails_every_task_and_zero_none(emulator: RunwayEmulator, api: httpx.Client) -> None:
    emulator.update(failure_rate=1.0)
    failing = [create_task(api) for _ in range(3)]
    emulator.update(failure_rate=0.0)
    succeeding = [create_task(api) for _ in range(3)]
    assert {wait_for_task(api, task_id)[0]["status"] for task_id in failing} == {"FAILED"}
    assert {wait_for_task(api, task_id)[0]["status"] for task_id in succeeding} == {"SUCCEEDED"}


def test_unknown_task_is_404_with_error_body(api: httpx.Client) -> None:
    for method in ("GET", "DELETE"):
        response = api.request(method, "/v1/tasks/00000000-0000-4000-8000-000000000000")
        assert response.status_code == 404
        assert "error" in response.json()


def test_delete_cancels_an_unfinished_task(api: httpx.Client) -> None:
    task_id = create_task(api)
    assert api.delete(f"/v1/tasks/{task_id}").status_code == 204
    task = api.get(f"/v1/tasks/{task_id}").json()
    assert task["status"] == "CANCELLED"
    assert task["cost"] == {"credits": 0}
    time.sleep(0.5)  # longer than the whole task would take: it stays cancelled
    assert api.get(f"/v1/tasks/{task_id}").json()["status"] == "CANCELLED"
    # A cancelled task is finished: a second DELETE removes it.
    assert api.delete(f"/v1/tasks/{task_id}").status_code == 204
    assert api.get(f"/v1/tasks/{task_id}").status_code == 404


def test_delete_removes_a_finished_task_and_its_outputs(api: httpx.Client) -> None:
    task_id = create_task(api)
    final, _ = wait_for_task(api, task_id)
    assert httpx.get(final["output"][0]).status_code == 200
    assert api.delete(f"/v1/tasks/{task_id}").status_code == 204
    assert api.get(f"/v1/tasks/{task_id}").status_code == 404
    assert api.delete(f"/v1/tasks/{task_id}").status_code == 404
    assert httpx.get(final["output"][0]).status_code == 404


def test_tasks_beyond_the_concurrency_limit_are_throttled_until_a_slot_frees(
    emulator: RunwayEmulator, api: httpx.Client
) -> None:
    emulator.update(concurrency_per_model=1)
    first = create_task(api)
    second = create_task(api)
    other_model = create_task(api, model="veo3.1")  # its own limit: never waits for gen4.5

    _, seen_second = wait_for_task(api, second, until=lambda task: task["status"] == "RUNNING")
    first_now = api.get(f"/v1/tasks/{first}").json()
    assert first_now["status"] == "SUCCEEDED"  # the second ran only once the first was done
    assert "THROTTLED" in [task["status"] for task in seen_second]
    throttled = next(task for task in seen_second if task["status"] == "THROTTLED")
    assert throttled["estimatedCost"]["credits"] > 0
    _, seen_other = wait_for_task(api, other_model)
    assert "THROTTLED" not in [task["status"] for task in seen_other]


def test_cancelling_a_running_task_lets_the_throttled_one_start(
    emulator: RunwayEmulator, api: httpx.Client
) -> None:
    emulator.update(concurrency_per_model=1, clock_speed=2.0)  # the first would run ~3 s real time
    first = create_task(api)
    second = create_task(api)
    wait_for_task(api, second, until=lambda task: task["status"] == "THROTTLED")
    # The first holds the slot from PENDING on; under load it may not have started running yet.
    wait_for_task(api, first, until=lambda task: task["status"] == "RUNNING", timeout_s=3.0)
    assert api.get(f"/v1/tasks/{second}").json()["status"] == "THROTTLED"
    api.delete(f"/v1/tasks/{first}")
    emulator.update(clock_speed=FAST_CLOCK)
    final, _ = wait_for_task(api, second, timeout_s=2.0)
    assert final["status"] == "SUCCEEDED"


def test_daily_cap_answers_429_with_retry_after_and_creates_nothing(
    emulator: RunwayEmulator, api: httpx.Client
) -> None:
    emulator.update(daily_cap=2)
    create_task(api)
    create_task(api)
    refused = api.post("/v1/text_to_video", json={"model": "gen4.5", "promptText": "third"})
    assert refused.status_code == 429
    assert refused.json()["error"]
    assert float(refused.headers["Retry-After"]) > 0
    assert emulator.counters()["tasks_created"] == 2
    assert emulator.counters()["POST /v1/text_to_video"] == 3
    emulator.update(retry_after_s=30)
    assert (
        api.post("/v1/text_to_video", json={"model": "gen4.5", "promptText": "x"}).headers["Retry-After"]
        == "30"
    )


def _run_seeded(seed: int) -> tuple[list[str], list[tuple[float, str | None]]]:
    config = EmulatorConfig(seed=seed, profile="realistic", failure_rate=0.5)
    with RunwayEmulator(config) as emulator, api_client(emulator) as api:
        ids = [create_task(api, promptText=f"prompt {index}") for index in range(6)]
        plans = [(report["totalSeconds"], report["failureCode"]) for report in emulator.tasks()]
        return ids, plans


def test_same_seed_repeats_ids_durations_and_failures() -> None:
    first_ids, first_plans = _run_seeded(11)
    second_ids, second_plans = _run_seeded(11)
    other_ids, other_plans = _run_seeded(12)
    assert first_ids == second_ids
    assert first_plans == second_plans
    assert first_ids != other_ids
    assert first_plans != other_plans
    # failure_rate=0.5 over six tasks with this seed gives both outcomes (a fixed, repeatable draw).
    assert {code is None for _, code in first_plans} == {True, False}


def test_realistic_durations_spread_between_30_s_and_3_min() -> None:
    config = EmulatorConfig(seed=3, profile="realistic")
    with RunwayEmulator(config) as emulator, api_client(emulator) as api:
        for model in ("gen4.5", "veo3.1", "gen4.5", "veo3.1", "gen4.5", "veo3.1") * 3:
            create_task(api, model=model)
        durations = [report["totalSeconds"] for report in emulator.tasks()]
        by_model = {
            model: {report["totalSeconds"] for report in emulator.tasks() if report["model"] == model}
            for model in ("gen4.5", "veo3.1")
        }
    assert all(30.0 <= seconds <= 180.0 for seconds in durations)
    assert max(durations) - min(durations) > 60.0
    assert all(len(values) == 9 for values in by_model.values())  # no single value per model


def test_realistic_progress_is_uneven_with_plateaus_and_jumps() -> None:
    # 100x: this 100 s task runs ~1 s of real time, polled as fast as the loopback allows.
    config = EmulatorConfig(seed=5, profile="realistic", clock_speed=100.0, durations={"gen4.5": 100.0})
    with RunwayEmulator(config) as emulator, api_client(emulator) as api:
        task_id = create_task(api)
        start = time.monotonic()
        samples: list[tuple[float, float]] = []
        while True:
            task = api.get(f"/v1/tasks/{task_id}").json()
            if task["status"] == "RUNNING":
                samples.append((time.monotonic() - start, task["progress"]))
            if task["status"] == "SUCCEEDED":
                break
            assert time.monotonic() - start < 10.0
    progress = [value for _, value in samples]
    assert len(samples) > 20
    assert progress == sorted(progress)  # never goes backwards as reported
    (t_first, p_first), (t_last, p_last) = samples[0], samples[-1]
    average_rate = (p_last - p_first) / (t_last - t_first)
    # Plateau: at least 3% of the run time during which progress did not move at all.
    longest_flat = max(
        (
            later_t - earlier_t
            for (earlier_t, earlier_p), (later_t, later_p) in itertools.combinations(samples, 2)
            if later_p == earlier_p
        ),
        default=0.0,
    )
    assert longest_flat > 0.03 * (t_last - t_first)
    # Jump: some poll interval gaining progress far faster than the average pace.
    fastest = max(
        (later_p - earlier_p) / (later_t - earlier_t)
        for (earlier_t, earlier_p), (later_t, later_p) in itertools.pairwise(samples)
    )
    assert fastest > 4 * average_rate
    # Not a straight line in time: the worst deviation from the chord between first and last sample.
    deviation = max(abs(p - (p_first + average_rate * (t - t_first))) for t, p in samples)
    assert deviation > 0.05


def test_duration_settings_override_the_profile(emulator: RunwayEmulator, api: httpx.Client) -> None:
    emulator.update(profile="realistic", min_duration_s=10.0, max_duration_s=12.0)
    for _ in range(5):
        create_task(api)
    emulator.update(durations={"veo3.1": 42.0})
    create_task(api, model="veo3.1")
    reports = emulator.tasks()
    assert all(10.0 <= report["totalSeconds"] <= 12.0 for report in reports[:5])
    assert reports[5]["totalSeconds"] == 42.0
    with pytest.raises(ValueError, match="min_duration_s"):
        emulator.update(min_duration_s=20.0)
