"""The whole bridge for end-to-end API tests: `LocalStack` over the real `template.yaml` (moto, the
real handlers in-process, the local API Gateway with the real authorizer) and the Runway emulator.
One stack per test module (starting one costs seconds); tests use their own tenants and keys so
they do not see each other's jobs."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from runway_bridge.settings import get_settings
from runway_bridge_dev.emulator import EmulatorConfig, RunwayEmulator
from runway_bridge_dev.local.stack import LocalStack

Stack = LocalStack

REPO_ROOT = Path(__file__).resolve().parents[3]
EVENTS_DIR = REPO_ROOT / "events"
# The fast profile's ~6 s task, seen through a clock slowed enough that a test can watch it run.
SLOW_CLOCK = 0.5


def load_event(relative: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS_DIR / relative).read_text())
    return event


def sample_body(operation: str) -> dict[str, Any]:
    """The body of `events/api/create_<operation>.json` (valid per the spec, with bridge fields)."""
    body: dict[str, Any] = json.loads(load_event(f"api/create_{operation}.json")["body"])
    return body


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    key: str

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def start_stack(parameters: Mapping[str, str] | None = None, **emulator_fields: Any) -> Stack:
    """A stack over the real template (`parameters` override its defaults) with the fast emulator."""
    config = EmulatorConfig(profile="fast", seed=11, **emulator_fields)
    stack = LocalStack(emulator_config=config, run_schedules=False, parameters=parameters).start()
    forget_process_caches()
    return stack


def forget_process_caches() -> None:
    """Settings, services and boto3 clients are built once per process; a new stack (new moto port,
    new table names) in the same test worker needs them built again."""
    from runway_bridge.adapters.aws import forget_clients  # noqa: PLC0415
    from runway_bridge.wiring.cache import clear_all  # noqa: PLC0415

    get_settings.cache_clear()
    clear_all()
    forget_clients()


def new_tenant(prefix: str = "t") -> Tenant:
    from runway_bridge_dev.keys_cli import create_key  # noqa: PLC0415  (needs the stack's environment)

    tenant_id = f"{prefix}-{uuid.uuid4().hex[:10]}"
    return Tenant(tenant_id, create_key(tenant_id, "tests").api_key)


def emulator_of(stack: Stack) -> RunwayEmulator:
    emulator: RunwayEmulator | None = stack.emulator
    assert emulator is not None
    return emulator


def creates_sent(stack: Stack) -> int:
    """Create requests the emulator received, over every operation (faulted ones included)."""
    counters = emulator_of(stack).counters()
    return sum(
        count for route, count in counters.items() if route.startswith("POST /v1/") and "uploads" not in route
    )


def stored_job_items(stack: Stack) -> list[dict[str, Any]]:
    dynamodb = stack.aws.boto3_client("dynamodb")
    table = str(stack.aws.resolve({"Ref": "JobsTable"}))
    items: list[dict[str, Any]] = dynamodb.scan(TableName=table)["Items"]
    return [item for item in items if item["sk"]["S"] == "JOB"]


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    running = start_stack(clock_speed=SLOW_CLOCK)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def api(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.api_url, timeout=40) as client:
        yield client


@pytest.fixture
def tenant(stack: Stack) -> Tenant:
    return new_tenant("a")


@pytest.fixture
def other_tenant(stack: Stack) -> Tenant:
    return new_tenant("b")
