"""Timeouts end to end: a job past its limit is read once more (GET before DELETE), then cancelled at
Runway and ends TIMED_OUT; a task that succeeded just before its limit is copied, not destroyed.

This module's stack times jobs out 4 s after Runway accepts them (`JobTimeoutSeconds`), while the
first poll comes 5 s after (`first_poll_delay_s`): every job's first look is past its limit.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from runway_bridge.models.job import BRIDGE_TIMED_OUT, JobStatus
from runway_bridge_dev.local.stack import LocalStack
from tests.e2e.api.conftest import Tenant
from tests.integration.poller.conftest import (
    emulator_of,
    outbox,
    runway_task,
    s3_object,
    sha256_hex,
    start_poller_stack,
    stored_job,
    submit,
    task_view,
    watch_until_finished,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    # image_to_video (gen4_turbo) runs far past the limit; sound_effect finishes well before it.
    running = start_poller_stack(
        {"JobTimeoutSeconds": "4"}, durations={"gen4_turbo": 120.0, "sound_effect_v1": 2.0}
    )
    try:
        yield running
    finally:
        running.stop()


def test_job_past_its_limit_is_cancelled_at_runway_and_ends_timed_out(
    stack: LocalStack, api: httpx.Client, tenant: Tenant
) -> None:
    emulator = emulator_of(stack)
    deletes_before = emulator.counters().get("DELETE /v1/tasks/{id}", 0)
    job_id = submit(api, tenant, "image_to_video")
    task_id = str(task_view(api, tenant, job_id)["bridge"]["runwayTaskId"])

    view, seen = watch_until_finished(api, tenant, job_id, timeout_s=40)
    # Runway-shaped clients see a failure with the bridge's code.
    assert view["status"] == "FAILED", seen
    assert view["failureCode"] == BRIDGE_TIMED_OUT
    job = stored_job(stack, job_id)
    assert job.status is JobStatus.TIMED_OUT
    assert job.poll_count == 1  # the one look before the DELETE counts
    assert [event.type for event in outbox(stack, job_id)] == ["task.timed_out"]
    # Cancelled at Runway (it would otherwise run on and be charged), exactly once.
    assert runway_task(stack, task_id)["status"] == "CANCELLED"
    assert emulator.counters().get("DELETE /v1/tasks/{id}", 0) - deletes_before == 1


def test_task_that_succeeded_just_before_its_limit_is_copied_not_destroyed(
    stack: LocalStack, api: httpx.Client, tenant: Tenant
) -> None:
    emulator = emulator_of(stack)
    deletes_before = emulator.counters().get("DELETE /v1/tasks/{id}", 0)
    job_id = submit(api, tenant, "sound_effect")
    task_id = str(task_view(api, tenant, job_id)["bridge"]["runwayTaskId"])

    view, seen = watch_until_finished(api, tenant, job_id, timeout_s=40)
    assert view["status"] == "SUCCEEDED", seen
    assert stored_job(stack, job_id).status is JobStatus.SUCCEEDED
    assert [event.type for event in outbox(stack, job_id)] == ["task.succeeded"]
    # The task is still there at Runway, and its output is what was copied.
    runway = runway_task(stack, task_id)
    assert runway["status"] == "SUCCEEDED"
    assert emulator.counters().get("DELETE /v1/tasks/{id}", 0) == deletes_before
    served = httpx.get(runway["output"][0], timeout=10).content
    output = view["bridge"]["outputs"][0]
    assert s3_object(stack, output["s3Uri"]) == served
    assert output["sha256"] == sha256_hex(served)
