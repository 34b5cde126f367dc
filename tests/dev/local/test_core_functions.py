"""The in-process function runner: handlers run like Lambda runs them (context, errors, timeouts)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from runway_bridge_dev.local.functions import (
    FunctionError,
    FunctionNotFound,
    FunctionRunner,
    FunctionTimeout,
    LocalFunction,
)
from tests.dev.local.conftest import CORE_HANDLERS

ARN_PREFIX = "arn:aws:lambda:us-east-1:123456789012:function:"


def _function(
    name: str, handler: str, *, code_dir: Path = CORE_HANDLERS, timeout_s: float = 3.0
) -> LocalFunction:
    return LocalFunction(
        logical_id=f"{name.title()}Function",
        function_name=f"stack-{name}",
        arn=f"{ARN_PREFIX}stack-{name}",
        code_dir=code_dir,
        handler=handler,
        timeout_s=timeout_s,
        memory_mb=256,
    )


@pytest.fixture
def runner() -> FunctionRunner:
    runner = FunctionRunner()
    runner.register(_function("double", "calc.double"))
    runner.register(_function("describe", "calc.describe", timeout_s=7))
    runner.register(_function("slow", "calc.slow", timeout_s=0.3))
    return runner


@pytest.mark.parametrize(
    "reference",
    ["stack-double", "DoubleFunction", f"{ARN_PREFIX}stack-double", f"{ARN_PREFIX}stack-double:$LATEST"],
)
def test_a_function_answers_to_its_name_arn_and_logical_id(runner: FunctionRunner, reference: str) -> None:
    assert runner.invoke(reference, {"n": 21}) == {"id": None, "n": 21, "doubled": 42}


def test_the_handler_gets_a_lambda_like_context(runner: FunctionRunner) -> None:
    described = runner.invoke("stack-describe", {})
    assert described["function_name"] == "stack-describe"
    assert described["invoked_function_arn"] == f"{ARN_PREFIX}stack-describe"
    assert described["memory_limit_in_mb"] == 256
    assert 6000 < described["remaining_ms"] <= 7000
    other = runner.invoke("stack-describe", {})
    assert other["aws_request_id"] != described["aws_request_id"]


def test_a_handler_exception_comes_back_as_lambdas_error_type_and_message(runner: FunctionRunner) -> None:
    with pytest.raises(FunctionError) as raised:
        runner.invoke("stack-double", {"n": -3})
    assert raised.value.error_type == "NegativeNumberError"
    assert raised.value.error_message == "cannot double -3"
    assert raised.value.payload["errorType"] == "NegativeNumberError"
    assert any("calc.py" in line for line in raised.value.stack_trace)


def test_a_handler_overrunning_its_timeout_is_reported_as_timed_out(runner: FunctionRunner) -> None:
    started = time.monotonic()
    with pytest.raises(FunctionTimeout) as raised:
        runner.invoke("stack-slow", {"sleep_s": 3})
    assert time.monotonic() - started < 2
    assert raised.value.error_type == "Sandbox.Timedout"
    assert "0.30 seconds" in raised.value.error_message


def test_a_per_call_timeout_overrides_the_functions(runner: FunctionRunner) -> None:
    assert runner.invoke("stack-slow", {"sleep_s": 0.05}, timeout_s=2) == "finished"


def test_an_unknown_function_is_refused_naming_the_registered_ones(runner: FunctionRunner) -> None:
    with pytest.raises(FunctionNotFound, match="stack-double"):
        runner.invoke("nope", {})


def test_two_functions_may_each_ship_their_own_app_module(tmp_path: Path) -> None:
    runner = FunctionRunner()
    for label in ("first", "second"):
        code_dir = tmp_path / label
        code_dir.mkdir()
        (code_dir / "helpers.py").write_text(f"LABEL = {label!r}\n")
        (code_dir / "app.py").write_text(
            "import helpers\n\ndef handler(event, context):\n    return helpers.LABEL\n"
        )
        runner.register(_function(label, "app.handler", code_dir=code_dir))
    assert runner.invoke("stack-first", {}) == "first"
    # `helpers` is a sibling module of both: each function must see its own, as in Lambda.
    assert runner.invoke("stack-second", {}) == "second"


def test_invocations_at_once_each_get_their_own_environment_and_a_warm_one_is_reused(
    tmp_path: Path,
) -> None:
    # A module global set per request (as a Powertools resolver keeps its request context): two
    # invocations in one module at once would read each other's value, which Lambda never does.
    (tmp_path / "app.py").write_text(
        "import threading, time\n"
        "current = None\n"
        "started = 0\n"
        "def handler(event, context):\n"
        "    global current, started\n"
        "    started += 1\n"
        "    current = event['n']\n"
        "    if event.get('wait'):\n"
        "        event['wait'].wait(10)\n"
        "    return current, started\n"
    )
    runner = FunctionRunner()
    runner.register(_function("env", "app.handler", code_dir=tmp_path, timeout_s=15))
    both_running = threading.Barrier(3)
    results: dict[int, object] = {}

    def call(n: int) -> None:
        results[n] = runner.invoke("stack-env", {"n": n, "wait": both_running})

    threads = [threading.Thread(target=call, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    both_running.wait(10)
    for thread in threads:
        thread.join(10)
    assert results == {1: (1, 1), 2: (2, 1)}  # each its own module: own global, own counter
    # Sequential invocations reuse a warm environment (its globals survive, as on Lambda).
    assert runner.invoke("stack-env", {"n": 3})[1] == 2


def test_a_missing_handler_is_an_import_error_like_lambdas(tmp_path: Path) -> None:
    runner = FunctionRunner()
    runner.register(_function("broken", "absent.handler", code_dir=tmp_path))
    with pytest.raises(FunctionError) as raised:
        runner.invoke("stack-broken", {})
    assert raised.value.error_type == "Runtime.ImportModuleError"


def test_registering_a_name_twice_is_refused(runner: FunctionRunner) -> None:
    with pytest.raises(ValueError, match="already registered"):
        runner.register(_function("double", "calc.double"))


def test_functions_running_at_once_each_log_with_their_own_context() -> None:
    # On Lambda every function has its own process; here they share one, and one Powertools Logger.
    runner = FunctionRunner()
    runner.register(_function("first", "logs.handler", timeout_s=5))
    runner.register(_function("second", "logs.handler", timeout_s=5))
    answers: dict[str, list[dict[str, object]]] = {}

    def invoke(name: str, pause_s: float) -> None:
        answers[name] = runner.invoke(f"stack-{name}", {"tag": name, "pause_s": pause_s})

    # "second" starts (and clears the logger's state) while "first" is still running.
    first = threading.Thread(target=invoke, args=("first", 0.6))
    first.start()
    time.sleep(0.2)
    invoke("second", 0.0)
    first.join()

    for name in ("first", "second"):
        (line,) = answers[name]
        assert (line["message"], line["function_name"], line["tag"]) == ("done", f"stack-{name}", name)
    assert answers["first"][0]["function_request_id"] != answers["second"][0]["function_request_id"]


def test_resolvers_running_at_once_each_read_their_own_request(tmp_path: Path) -> None:
    # Powertools keeps the request being resolved on a class attribute (`BaseRouter.current_event`),
    # shared by every module copy in this process. On Lambda an environment serves one invocation
    # at a time, so a handler always reads its own request; two at once here must too, or one
    # caller's body is sent under another caller's job.
    go = tmp_path / "go"
    (tmp_path / "app.py").write_text(
        "import pathlib, time\n"
        "from aws_lambda_powertools.event_handler import APIGatewayRestResolver\n"
        "app = APIGatewayRestResolver()\n"
        "@app.post('/echo')\n"
        "def echo():\n"
        "    go = pathlib.Path(app.current_event.json_body['go'])\n"
        "    go.with_suffix('.inside').touch()\n"
        "    while app.current_event.json_body['wait'] and not go.exists():\n"
        "        time.sleep(0.02)\n"
        "    return {'read': app.current_event.json_body['tag']}\n"
        "def handler(event, context):\n"
        "    return app.resolve(event, context)\n"
    )
    runner = FunctionRunner()
    runner.register(_function("echo", "app.handler", code_dir=tmp_path, timeout_s=30))

    def request(tag: str, *, wait: bool) -> object:
        event = {
            "httpMethod": "POST",
            "path": "/echo",
            "resource": "/echo",
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"tag": tag, "wait": wait, "go": str(go)}),
            "requestContext": {"stage": "v1", "path": "/echo", "httpMethod": "POST"},
            "isBase64Encoded": False,
        }
        return json.loads(runner.invoke("stack-echo", event)["body"])["read"]

    answers: dict[str, object] = {}
    first = threading.Thread(target=lambda: answers.__setitem__("first", request("first", wait=True)))
    first.start()
    inside = go.with_suffix(".inside")
    for _ in range(1500):  # "first" is inside its route within a few ms; 30 s on a loaded machine
        if inside.exists():
            break
        time.sleep(0.02)
    try:
        answers["second"] = request("second", wait=False)  # resolved while "first" is in its route
    finally:
        go.touch()
        first.join(30)
    assert answers == {"first": "first", "second": "second"}
