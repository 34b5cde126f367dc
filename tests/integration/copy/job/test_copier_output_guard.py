"""Through the local runtime with the deployed output guard (no local relaxation): the emulator's
output URLs are http on loopback, so the copier refuses them without fetching a byte and the job fails
once with BRIDGE.COPY_FAILED, saying why. (Not retried: the refusal is a property of the URL Runway
gave, not of the moment; a name that does not resolve is retried like any fetch failure.)"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from runway_bridge.models.job import BRIDGE_COPY_FAILED, JobStatus
from tests.e2e.api.conftest import Tenant
from tests.integration.copy.job.conftest import Bridge, start_bridge


@pytest.fixture(scope="module")
def bridge() -> Iterator[Bridge]:
    yield from start_bridge(environment={"BRIDGE_ALLOW_LOCAL_OUTPUTS": "false"})


def test_an_output_url_on_a_loopback_address_fails_the_job_without_a_fetch(
    bridge: Bridge, api: httpx.Client, tenant: Tenant
) -> None:
    job_id = bridge.submit(tenant, api)
    bridge.finished_at_runway(job_id)
    bridge.to_copying(job_id)
    job = bridge.finished(job_id)

    assert job.status is JobStatus.FAILED
    assert job.failure_code == BRIDGE_COPY_FAILED
    assert job.failure is not None
    assert "output URL refused" in job.failure
    assert "only https" in job.failure  # the emulator serves http on loopback: refused on both counts
    assert bridge.proxy.output_gets == 0
    assert job.outputs == []
    assert bridge.dead_letters() == 0
    view = api.get(f"/v1/tasks/{job_id}", headers=tenant.bearer).json()
    assert view["failureCode"] == BRIDGE_COPY_FAILED
