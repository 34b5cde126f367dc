"""Schemathesis (its CLI, v4) fuzzes the emulator from Runway's spec: whatever the spec allows a
client to send, valid or not, the emulator never answers with a server error.

Only `not_a_server_error` is required. Two other checks disagree on purpose: the emulator (like
the bridge) is stricter than the spec, refusing empty prompts, URIs and filenames with 400
(`positive_data_acceptance`), and it answers 400 for a missing `X-Runway-Version` on task routes,
where the spec documents no 400 (`status_code_conformance`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runway_bridge.models.operations import OPERATIONS
from runway_bridge_dev.emulator import EmulatorConfig, RunwayEmulator
from tests.schemathesis_cli import assert_no_server_error

REPO_ROOT = Path(__file__).resolve().parents[3]
# The spec is the team's contract and lives beside the repository (CI has it there too).
SPEC = REPO_ROOT.parent / "shared" / "runway-openapi.yaml"
MAX_EXAMPLES = 30
SEED = 20241106


@pytest.fixture
def emulator() -> Iterator[RunwayEmulator]:
    with RunwayEmulator(EmulatorConfig(seed=3, clock_speed=20.0)) as running:
        yield running


@pytest.mark.slow
def test_the_spec_never_gets_a_server_error_from_the_emulator(
    emulator: RunwayEmulator, tmp_path: Path
) -> None:
    assert SPEC.is_file(), f"the Runway spec is expected at {SPEC}"
    # The spec's server is https://api.dev.runwayml.com/v1 and its paths have no /v1.
    assert_no_server_error(
        str(SPEC),
        base_url=f"{emulator.base_url}/v1",
        api_key=emulator.api_key,
        max_examples=MAX_EXAMPLES,
        seed=SEED,
        request_timeout_s=10,
        cwd=tmp_path,
        timeout_s=240,
    )
    # It really exercised the emulator: every operation was called, and some cases were valid
    # enough to create tasks (a wrong base URL would pass "no 5xx" with 404s alone).
    counters = emulator.counters()
    for operation in OPERATIONS:
        assert counters.get(f"POST /v1/{operation}", 0) > 0, operation
    assert counters.get("GET /v1/tasks/{id}", 0) > 0
    assert counters.get("DELETE /v1/tasks/{id}", 0) > 0
    assert counters.get("POST /v1/uploads", 0) > 0
    assert counters["tasks_created"] > 0
