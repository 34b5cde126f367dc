"""`events/` holds a sample event for every function of template.yaml, and each runs through its
handler on the local stack (unknown ids included: a stray event must not crash a function)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from samtranslator.yaml_helper import yaml_parse

from runway_bridge_dev.local.functions import FunctionError
from runway_bridge_dev.local.stack import DEFAULT_TEMPLATE, LocalStack
from tests.e2e.api.conftest import forget_process_caches

EVENTS = Path(__file__).resolve().parents[3] / "events"
# functions/<dir> -> events/<dir> where the names differ
EVENT_DIRS = {"submit_event": "bus"}


def template_functions() -> dict[str, str]:
    """Logical id -> code directory name, for every function in the template."""
    resources = yaml_parse(DEFAULT_TEMPLATE.read_text())["Resources"]
    return {
        logical_id: Path(resource["Properties"]["CodeUri"]).name
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def sample(relative: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / relative).read_text())
    return event


def test_every_function_has_a_sample_event() -> None:
    for logical_id, code_dir in template_functions().items():
        directory = EVENTS / EVENT_DIRS.get(code_dir, code_dir)
        assert sorted(directory.glob("*.json")), f"{logical_id}: no sample event in {directory}"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    running = LocalStack(run_schedules=False).start()
    forget_process_caches()
    try:
        yield running
    finally:
        running.stop()


def invoke(stack: LocalStack, logical_id: str, event: dict[str, Any]) -> Any:
    return stack.aws.runner.invoke(str(stack.aws.resolve({"Ref": logical_id})), event)


@pytest.mark.slow
def test_each_sample_event_runs_through_its_function(
    stack: LocalStack, capfd: pytest.CaptureFixture[str]
) -> None:
    polled = invoke(stack, "PollDueFunction", sample("poll_due/round.json"))
    assert polled["runId"] == "sample-run-1"
    assert isinstance(polled["checks"], list)
    assert isinstance(polled["copies"], list)
    for logical_id, name in (
        ("CopyOutputsFunction", "copy_outputs/sqs.json"),
        ("DeliverWebhookFunction", "deliver_webhook/sqs.json"),
        ("PublishEventsFunction", "publish_events/stream_insert.json"),
    ):
        assert invoke(stack, logical_id, sample(name)) == {"batchItemFailures": []}, name
    capfd.readouterr()
    assert invoke(stack, "PublishEventsFunction", sample("publish_events/sweep.json")) == {
        "published": 0,
        "failed": 0,
    }
    # An idle sweep (every 5 minutes) publishes no metric: each custom metric is billed per hour seen.
    logged = capfd.readouterr()
    assert "EventsSwept" not in logged.out + logged.err
    assert "EventsSweepFailed" not in logged.out + logged.err
    submitted = invoke(stack, "SubmitEventFunction", sample("bus/generation_requested.json"))
    assert submitted is None or isinstance(submitted, dict)
    # The sample's key was never issued: API Gateway's convention for "401" is this exception.
    with pytest.raises(FunctionError, match="Unauthorized"):
        invoke(stack, "AuthorizerFunction", sample("authorizer/request.json"))
    health = invoke(stack, "ApiFunction", sample("api/health.json"))
    assert health["statusCode"] == 200
