"""The poller end to end: `LocalStack` over the real `template.yaml` (the real ASL executed by moto,
poll_due/copier handlers in-process, the local API Gateway) and the Runway emulator.

Jobs are submitted through the API; the submit path starts a poller run (the scheduler's clock is
off: `fire_now` starts the minute tick's run on demand). Rounds wait 1 s (`PollerWaitSeconds`).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final, TypeVar

import httpx
import pytest

from runway_bridge.adapters.jobs.store import DynamoJobStore
from runway_bridge.models.job import Job
from runway_bridge.models.outbox import OutboxEvent
from runway_bridge_dev.emulator import EmulatorConfig, RunwayEmulator
from runway_bridge_dev.local.stack import LocalStack
from tests.e2e.api.conftest import Tenant, forget_process_caches, new_tenant, sample_body

T = TypeVar("T")

POLLER_PARAMETERS: Final = {"PollerWaitSeconds": "1"}
SCHEDULE = "PollerStateMachineEveryMinute"
FINISHED = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})


def start_poller_stack(parameters: Mapping[str, str] | None = None, **emulator_fields: Any) -> LocalStack:
    config = EmulatorConfig(**{"profile": "fast", "seed": 5, **emulator_fields})
    stack = LocalStack(
        emulator_config=config, run_schedules=False, parameters={**POLLER_PARAMETERS, **(parameters or {})}
    ).start()
    forget_process_caches()
    return stack


def wait_until(probe: Callable[[], T | None], *, timeout_s: float, interval_s: float = 0.25) -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"not reached within {timeout_s} s (last value: {value!r})")
        time.sleep(interval_s)


def emulator_of(stack: LocalStack) -> RunwayEmulator:
    assert stack.emulator is not None
    return stack.emulator


def jobs_store(stack: LocalStack) -> DynamoJobStore:
    return DynamoJobStore(stack.aws.boto3_client("dynamodb"), stack.aws.physical_id("JobsTable"))


def stored_job(stack: LocalStack, job_id: str) -> Job:
    job = jobs_store(stack).get(job_id)
    assert job is not None
    return job


def outbox(stack: LocalStack, job_id: str) -> list[OutboxEvent]:
    return jobs_store(stack).outbox_events(job_id)


def submit(api: httpx.Client, tenant: Tenant, operation: str, **changes: Any) -> str:
    body = {**sample_body(operation), **changes}
    body.pop("callbackUrl", None)  # no receiver in these tests
    response = api.post(f"/v1/{operation}", json=body, headers=tenant.bearer)
    assert response.status_code == 200, response.text
    job_id: str = response.json()["id"]
    return job_id


def task_view(api: httpx.Client, tenant: Tenant, job_id: str) -> dict[str, Any]:
    response = api.get(f"/v1/tasks/{job_id}", headers=tenant.bearer)
    assert response.status_code == 200, response.text
    view: dict[str, Any] = response.json()
    return view


def watch_until_finished(
    api: httpx.Client, tenant: Tenant, job_id: str, *, timeout_s: float = 45.0
) -> tuple[dict[str, Any], list[str]]:
    """The finished task view, and every view status seen on the way (in order, deduplicated)."""
    seen: list[str] = []

    def probe() -> dict[str, Any] | None:
        view = task_view(api, tenant, job_id)
        if not seen or seen[-1] != view["status"]:
            seen.append(view["status"])
        return view if view["status"] in FINISHED else None

    return wait_until(probe, timeout_s=timeout_s, interval_s=0.2), seen


def runway_task(stack: LocalStack, task_id: str) -> dict[str, Any]:
    """The task as the emulator answers it (with its own, freshly signed output URLs)."""
    emulator = emulator_of(stack)
    answer = httpx.get(
        f"{emulator.base_url}/v1/tasks/{task_id}",
        headers={"Authorization": f"Bearer {emulator.api_key}", "X-Runway-Version": "2024-11-06"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    task: dict[str, Any] = answer.json()
    return task


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def s3_object(stack: LocalStack, s3_uri: str) -> bytes:
    bucket, _, key = s3_uri.removeprefix("s3://").partition("/")
    body: bytes = stack.aws.boto3_client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    running = start_poller_stack()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def api(stack: LocalStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.api_url, timeout=40) as client:
        yield client


@pytest.fixture
def tenant(stack: LocalStack) -> Tenant:
    return new_tenant("p")
