"""`webhooks listen` left running across a `make dev` restart keeps verifying (new key, new secret)."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from standardwebhooks import Webhook

from runway_bridge_dev.cli import build_parser
from runway_bridge_dev.client_cli import make_verifier
from runway_bridge_dev.profile import DevProfile, write_dev_profile
from tests.unit.cli.conftest import FakeBridge


def whsec(seed: str) -> str:
    return "whsec_" + base64.b64encode(seed.encode() * 4).decode()


def signed(secret: str, body: bytes) -> dict[str, str]:
    now = datetime.now(tz=UTC)
    signature = Webhook(secret).sign("msg_1", now, body.decode())
    return {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }


def start_dev(key: str) -> None:
    write_dev_profile(
        DevProfile(
            api_url="http://bridge.test",
            api_key=key,
            tenant_id="dev",
            aws_endpoint_url="http://127.0.0.1:1",
            region="us-east-1",
            api_keys_table="keys",
            pid=os.getpid(),
        )
    )


@pytest.fixture
def dev_bridge(bridge: FakeBridge, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeBridge:
    """The CLI finds the bridge through the dev profile only (as after `make dev`)."""
    monkeypatch.delenv("RUNWAY_BRIDGE_URL")
    monkeypatch.delenv("RUNWAY_BRIDGE_API_KEY")
    monkeypatch.delenv("RUNWAY_BRIDGE_WEBHOOK_SECRET", raising=False)
    secrets = {"key-1": whsec("first run"), "key-2": whsec("second run")}

    def secret(request: httpx.Request) -> httpx.Response:
        key = request.headers["authorization"].removeprefix("Bearer ")
        if key not in secrets:
            return httpx.Response(401, json={"message": "Unauthorized"})
        return httpx.Response(200, json={"secret": secrets[key]})

    bridge.on("GET /v1/webhooks/secret", secret)
    return bridge


def test_a_restart_of_make_dev_is_followed(dev_bridge: FakeBridge) -> None:
    start_dev("key-1")
    verifier = make_verifier(build_parser().parse_args(["webhooks", "listen"]))
    body = b'{"type": "task.succeeded"}'
    assert verifier.verify(body, signed(whsec("first run"), body))["type"] == "task.succeeded"

    start_dev("key-2")  # `make dev` restarted: new key (the old one is gone), new tenant secret
    assert verifier.verify(body, signed(whsec("second run"), body))["type"] == "task.succeeded"
    keys_asked = [r.headers["authorization"] for r in dev_bridge.sent("GET /v1/webhooks/secret")]
    assert keys_asked[-1] == "Bearer key-2"
