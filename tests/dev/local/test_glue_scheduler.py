"""EventBridge Scheduler, locally (moto never fires schedules): a scheduled run starts the state
machine, whose ASL really runs and calls an in-process Lambda handler (TickMachine → TickFunction
in tests/local/fixtures/glue/template.yaml); Lambda targets, cadence and refusals."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from runway_bridge_dev.local.scheduler import LocalScheduler, ScheduleSpec, UnsupportedSchedule
from runway_bridge_dev.local.stack import LocalStack

GLUE_TEMPLATE = Path(__file__).parent / "fixtures" / "glue" / "template.yaml"
INTERVAL_S = 0.5


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    # Every schedule fires every 0.5 s instead of its rate.
    with LocalStack(GLUE_TEMPLATE, use_emulator=False, schedule_interval_s=INTERVAL_S) as running:
        yield running


def ticks(stack: LocalStack, *, wait_s: float, sources: set[str]) -> list[dict[str, Any]]:
    """Tick events recorded by TickFunction, until each of `sources` has been seen twice."""
    sqs = stack.aws.boto3_client("sqs")
    url = str(stack.aws.resolve({"Ref": "ResultsQueue"}))
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and any(
        sum(1 for event in found if event.get("source") == source) < 2 for source in sources
    ):
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        ):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            body = json.loads(message["Body"])
            if body.get("kind") == "tick":
                found.append(body["event"])
    return found


def test_scheduled_run_executes_the_state_machine_and_its_lambda_task(stack: LocalStack) -> None:
    events = ticks(stack, wait_s=15, sources={"schedule", "direct"})
    via_machine = [e for e in events if e.get("source") == "schedule"]
    direct = [e for e in events if e.get("source") == "direct"]
    assert via_machine, events
    # The Pass state ran before the Lambda task: the handler got the ASL's output, not the raw input.
    assert via_machine[0]["stamp"] == "passed through the state machine"
    # Scheduler's context attribute was filled in, uniquely per run.
    execution_ids = [e["execution"] for e in via_machine]
    assert all(len(value) == 36 for value in execution_ids)
    assert len(set(execution_ids)) == len(execution_ids)
    assert direct
    assert direct[0] == {"source": "direct"}

    sfn = stack.aws.boto3_client("stepfunctions")
    machine_arn = str(stack.aws.resolve({"Ref": "TickMachine"}))
    executions = sfn.list_executions(stateMachineArn=machine_arn)["executions"]
    assert executions
    assert len({e["name"] for e in executions}) == len(executions)
    succeeded = [e for e in executions if e["status"] == "SUCCEEDED"]
    assert succeeded
    output = json.loads(sfn.describe_execution(executionArn=succeeded[0]["executionArn"])["output"])
    assert output["recorded"] is True


def test_fire_now_runs_a_lambda_target_and_returns_its_answer(stack: LocalStack) -> None:
    result = stack.scheduler.fire_now("DirectTick")
    assert result.detail == {"recorded": True, "input": {"source": "direct"}}


def test_fire_now_on_a_state_machine_target_returns_the_execution(stack: LocalStack) -> None:
    result = stack.scheduler.fire_now("TickMachineTick")
    sfn = stack.aws.boto3_client("stepfunctions")
    deadline = time.monotonic() + 5
    status = "RUNNING"
    while status == "RUNNING" and time.monotonic() < deadline:
        status = sfn.describe_execution(executionArn=result.detail)["status"]
        time.sleep(0.05)
    assert status == "SUCCEEDED"


def test_unknown_schedule_name_is_refused(stack: LocalStack) -> None:
    with pytest.raises(KeyError, match="NoSuchSchedule"):
        stack.scheduler.fire_now("NoSuchSchedule")


def _spec(expression: str, target: str = "arn:aws:lambda:us-east-1:123456789012:function:f") -> ScheduleSpec:
    return ScheduleSpec.from_properties(
        "Nightly",
        {"ScheduleExpression": expression, "Target": {"Arn": target, "RoleArn": "r"}},
        region="us-east-1",
        account_id="123456789012",
    )


def test_rate_expressions_give_their_period() -> None:
    assert _spec("rate(1 minute)").period_s() == 60
    assert _spec("rate(5 minutes)").period_s() == 300
    assert _spec("rate(2 hours)").period_s() == 7200
    assert _spec("at(2030-01-01T00:00:00)").period_s() is None


class _NeverCalled:
    def invoke(self, name_or_arn: str, event: dict[str, Any], *, timeout_s: float | None = None) -> Any:
        raise AssertionError("not expected")


def _scheduler(spec: ScheduleSpec, interval_s: float | None = None) -> LocalScheduler:
    return LocalScheduler(
        [spec],
        client=lambda service: None,
        invoker=_NeverCalled(),
        queue_url_for_arn=str,
        interval_s=interval_s,
    )


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        # 03:00 UTC every day
        ("cron(0 3 * * ? *)", "2030-01-01T02:59:30", "2030-01-01T03:00:00"),
        ("cron(0 3 * * ? *)", "2030-01-01T03:00:00", "2030-01-02T03:00:00"),
        # every 15 minutes
        ("cron(0/15 * * * ? *)", "2030-01-01T10:16:00", "2030-01-01T10:30:00"),
        # 18:00 on weekdays (MON-FRI): 2030-01-05 is a Saturday
        ("cron(0 18 ? * MON-FRI *)", "2030-01-04T18:00:00", "2030-01-07T18:00:00"),
        # day-of-week numbers start at 1 = Sunday
        ("cron(30 8 ? * 1 *)", "2030-01-01T00:00:00", "2030-01-06T08:30:00"),
        # the first of the month, in given months and year
        ("cron(0 0 1 JAN,JUL ? 2031)", "2030-03-01T00:00:00", "2031-01-01T00:00:00"),
        ("cron(0 0 1 1 ? 2029)", "2030-03-01T00:00:00", None),
    ],
)
def test_cron_expressions_give_the_next_run(expression: str, after: str, expected: str | None) -> None:
    start = datetime.fromisoformat(after).replace(tzinfo=UTC)
    following = _spec(expression).next_run(start)
    assert following == (datetime.fromisoformat(expected).replace(tzinfo=UTC) if expected else None)


@pytest.mark.parametrize(
    "expression",
    ["cron(0 3 L * ? *)", "cron(0 3 * * ? )", "cron(0 25 * * ? *)", "every day", "rate(0.5 minutes)"],
)
def test_schedule_the_scheduler_cannot_fire_fails_loudly_naming_it(expression: str) -> None:
    with pytest.raises(UnsupportedSchedule, match="Nightly"):
        _scheduler(_spec(expression))


def test_unsupported_target_fails_loudly() -> None:
    with pytest.raises(UnsupportedSchedule, match=r"Nightly.*arn:aws:ecs"):
        _scheduler(_spec("rate(1 minute)", target="arn:aws:ecs:us-east-1:123456789012:cluster/c"))
