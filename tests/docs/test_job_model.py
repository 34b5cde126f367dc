"""The job state machine documented in docs/job-model.md is the one the code enforces."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from runway_bridge.models.job import (
    TERMINAL,
    TRANSITIONS,
    JobStatus,
    can_transition,
    job_id_for,
    request_fingerprint,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "job-model.md"


def _documented_transitions() -> dict[JobStatus, set[JobStatus]]:
    text = DOC.read_text()
    section = text.split("## Transitions", 1)[1].split("##", 1)[0]
    table: dict[JobStatus, set[JobStatus]] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 2 or not cells[0].startswith("`"):
            continue
        sources = re.findall(r"`(\w+)`", cells[0])
        targets = {JobStatus(name) for name in re.findall(r"`(\w+)`", cells[1])}
        for source in sources:
            table[JobStatus(source)] = targets
    return table


def test_documented_transitions_match_the_code() -> None:
    documented = _documented_transitions()
    for status in JobStatus:
        assert documented.get(status, set()) == set(TRANSITIONS[status]), status


@pytest.mark.parametrize("terminal", sorted(TERMINAL))
def test_a_terminal_status_never_changes(terminal: JobStatus) -> None:
    assert not any(can_transition(terminal, other) for other in JobStatus)


def test_idempotency_key_gives_one_job_id_per_tenant() -> None:
    assert job_id_for("tenant-a", "key-1") == job_id_for("tenant-a", "key-1")
    assert job_id_for("tenant-a", "key-1") != job_id_for("tenant-b", "key-1")
    assert job_id_for("tenant-a", None) != job_id_for("tenant-a", None)


def test_fingerprint_ignores_key_order_but_not_values() -> None:
    first = request_fingerprint("text_to_video", {"model": "gen4.5", "promptText": "fox"})
    assert first == request_fingerprint("text_to_video", {"promptText": "fox", "model": "gen4.5"})
    assert first != request_fingerprint("text_to_video", {"promptText": "cat", "model": "gen4.5"})
