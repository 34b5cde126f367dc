"""README "Submitting from AWS (EventBridge)": its `put_events` example, taken from the README text and
run as written (only the bus name and tenant swapped for the local stack's), creates a job that
reaches SUCCEEDED."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.api.conftest import Stack, Tenant

README = Path(__file__).resolve().parents[3] / "README.md"
SECTION = "## Submitting from AWS (EventBridge)"


def readme_example() -> str:
    text = README.read_text()
    section = text[text.index(SECTION) :]
    section = section[: section.index("\n## ", len(SECTION))]
    [code] = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    return str(code)


def job_by_reference(api: httpx.Client, tenant: Tenant, reference: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + 90  # the emulator's task runs ~12 s at this stack's clock
    while True:
        page = api.get("/v1/tasks", params={"reference": reference}, headers=tenant.bearer).json()
        jobs: list[dict[str, Any]] = page["data"]
        if (jobs and jobs[0]["bridge"]["status"] == status) or time.monotonic() > deadline:
            assert jobs, f"no job with reference {reference}"
            return jobs[0]
        time.sleep(0.5)


def test_the_readme_put_events_example_creates_a_job_that_succeeds(
    api: httpx.Client, stack: Stack, tenant: Tenant
) -> None:
    code = readme_example()
    assert '"Source": "runway-bridge.requests"' in code
    bus = str(stack.aws.resolve({"Ref": "EventBus"}))
    reference = f"order-{uuid.uuid4().hex[:8]}"
    code = (
        code.replace('"runway-bridge-bus"', repr(bus))
        .replace('"acme"', repr(tenant.tenant_id))
        .replace('"order-1234"', repr(reference))
    )
    exec(compile(code, str(README), "exec"), {})  # boto3 reaches the local stack via AWS_ENDPOINT_URL

    job = job_by_reference(api, tenant, reference, "SUCCEEDED")
    assert job["bridge"]["status"] == "SUCCEEDED"
    assert job["status"] == "SUCCEEDED"
