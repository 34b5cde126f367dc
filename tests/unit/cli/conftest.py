"""The CLI against a scripted bridge (httpx MockTransport): what a user sees for each answer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from runway_bridge_dev import client_cli
from runway_bridge_dev.cli import main

Handler = Callable[[httpx.Request], httpx.Response]


@dataclass
class FakeBridge:
    """Routes "METHOD /path" to a handler; records every request."""

    routes: dict[str, Handler] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        handler = self.routes.get(f"{request.method} {request.url.path}")
        if handler is None:
            return httpx.Response(404, json={"error": "Task not found.", "code": "not_found"})
        return handler(request)

    def on(self, route: str, handler: Handler | dict[str, Any] | list[Any]) -> None:
        if callable(handler):
            self.routes[route] = handler
        else:
            body = handler
            self.routes[route] = lambda _request: httpx.Response(200, json=body)

    def sent(self, route: str) -> list[httpx.Request]:
        return [r for r in self.requests if f"{r.method} {r.url.path}" == route]


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def bridge(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeBridge:
    fake = FakeBridge()
    transport = httpx.MockTransport(fake.handle)

    def fake_client(target: client_cli.Target) -> httpx.Client:
        return httpx.Client(
            base_url=target.url, headers={"Authorization": f"Bearer {target.key}"}, transport=transport
        )

    monkeypatch.setattr(client_cli, "client", fake_client)
    monkeypatch.setattr(client_cli, "file_client", lambda: httpx.Client(transport=transport), raising=False)
    monkeypatch.setenv("RUNWAY_BRIDGE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("RUNWAY_BRIDGE_URL", "http://bridge.test")
    monkeypatch.setenv("RUNWAY_BRIDGE_API_KEY", "rwb_test")
    return fake


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    def run(*args: str) -> Result:
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run
