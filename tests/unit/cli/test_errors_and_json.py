"""Every error is one line on stderr with its exit code; every command can answer in JSON."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from runway_bridge_dev.cli import build_parser
from tests.unit.cli.conftest import FakeBridge, Result


def test_api_gateways_own_401_says_why_in_one_line(bridge: FakeBridge, cli: Callable[..., Result]) -> None:
    bridge.on("GET /v1/tasks", lambda _r: httpx.Response(401, json={"message": "Unauthorized"}))
    result = cli("tasks", "list")
    assert result.code == 1
    assert result.err == "error: GET /v1/tasks answered 401: Unauthorized\n"


def test_the_bridges_error_shape_shows_message_and_code(
    bridge: FakeBridge, cli: Callable[..., Result]
) -> None:
    bridge.on(
        "GET /v1/tasks",
        lambda _r: httpx.Response(400, json={"error": "limit: must be between 1 and 100", "code": "invalid"}),
    )
    result = cli("tasks", "list")
    assert result.code == 1
    assert result.err == "error: GET /v1/tasks answered 400: limit: must be between 1 and 100 (invalid)\n"


def test_a_non_json_error_body_is_one_line(bridge: FakeBridge, cli: Callable[..., Result]) -> None:
    bridge.on("GET /v1/tasks", lambda _r: httpx.Response(502, text="<html>\n<b>Bad\ngateway</b>\n</html>"))
    result = cli("tasks", "list")
    assert result.code == 1
    assert result.err.count("\n") == 1
    assert "502" in result.err


def test_keys_create_without_a_stack_is_one_line_exit_2(
    cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("RUNWAY_BRIDGE_HOME", str(tmp_path / "nothing"))
    for variable in ("BRIDGE_API_KEYS_TABLE_NAME", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(variable, raising=False)
    for args in (["keys", "create", "--tenant", "acme"], ["keys", "create", "--tenant", "acme", "--json"]):
        result = cli(*args)
        assert result.code == 2
        assert result.err.count("\n") == 1
        assert "make dev" in result.err
        assert result.out == ""


def test_an_unexpected_error_is_one_line_not_a_traceback(
    bridge: FakeBridge, cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_request: httpx.Request) -> httpx.Response:
        raise RuntimeError("something\nunexpected")

    bridge.on("GET /v1/tasks", broken)
    monkeypatch.delenv("RUNWAY_BRIDGE_DEBUG", raising=False)
    result = cli("tasks", "list")
    assert result.code == 1
    assert result.err.count("\n") == 1
    assert "Traceback" not in result.err


@pytest.mark.parametrize("action", ["create", "update", "revoke"])
def test_every_keys_action_takes_json(action: str) -> None:
    extra = {"create": ["--tenant", "t"], "update": ["--tenant", "t"], "revoke": ["k"]}[action]
    args = build_parser().parse_args(["keys", action, *extra, "--json"])
    assert args.json is True


def test_every_command_takes_json() -> None:
    parser = build_parser()
    commands = [
        ["generate", "text_to_video"],
        ["tasks", "get", "x"],
        ["tasks", "list"],
        ["tasks", "cancel", "x"],
        ["usage"],
        ["webhooks", "listen"],
        ["keys", "create", "--tenant", "t"],
    ]
    for command in commands:
        assert parser.parse_args([*command, "--json"]).json is True, command


def test_json_error_output_keeps_stdout_clean(bridge: FakeBridge, cli: Callable[..., Result]) -> None:
    bridge.on(
        "GET /v1/tasks/abc",
        lambda _r: httpx.Response(404, json={"error": "Task not found.", "code": "not_found"}),
    )
    result = cli("tasks", "get", "abc", "--json")
    assert result.code == 1
    assert result.out == ""
