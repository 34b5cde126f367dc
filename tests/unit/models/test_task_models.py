from __future__ import annotations

import pytest

from runway_bridge.models.runway import (
    FailedTask,
    RunningTask,
    SucceededTask,
    UnknownStatusTask,
    parse_task,
)


@pytest.mark.parametrize("status", ["RUNNING", "PROCESSING"])
def test_running_and_processing_are_both_in_progress(status: str) -> None:
    task = parse_task({"id": "t", "status": status, "progress": 0.4})
    assert isinstance(task, RunningTask)
    assert not task.is_terminal
    assert task.progress == 0.4


def test_unknown_status_is_kept_not_a_crash() -> None:
    task = parse_task({"id": "t", "status": "PAUSED_FOR_REVIEW", "someNewField": 1})
    assert isinstance(task, UnknownStatusTask)
    assert task.status == "PAUSED_FOR_REVIEW"
    assert not task.is_terminal


def test_failure_code_decides_whether_user_may_retry() -> None:
    safety = parse_task({"id": "t", "status": "FAILED", "failure": "x", "failureCode": "SAFETY.INPUT.TEXT"})
    internal = parse_task(
        {"id": "t", "status": "FAILED", "failure": "x", "failureCode": "INTERNAL.BAD_OUTPUT"}
    )
    assert isinstance(safety, FailedTask)
    assert not safety.user_may_retry
    assert isinstance(internal, FailedTask)
    assert internal.user_may_retry


def test_succeeded_task_keeps_outputs_in_order() -> None:
    task = parse_task({"id": "t", "status": "SUCCEEDED", "output": ["https://a/1.mp4", "https://a/2.mp4"]})
    assert isinstance(task, SucceededTask)
    assert task.output == ["https://a/1.mp4", "https://a/2.mp4"]
