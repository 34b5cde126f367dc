"""Fixtures for the Runway client tests: a real emulator per test on a free loopback port, clients
with small backoffs so retry tests take fractions of a second, and a scripted loopback server for
the few answers the emulator does not produce (HTTP-date Retry-After, recording request headers)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from runway_bridge.adapters.runway.client import RunwayClient
from runway_bridge_dev.emulator import EmulatorConfig, RunwayEmulator
from tests.integration.runway_client.scripted_server import ScriptedAnswer, ScriptedServer

# 20x: the fast profile's ~6 s task takes ~0.3 s of real time.
FAST_CLOCK = 20.0

ClientFactory = Callable[..., RunwayClient]


@pytest.fixture
def emulator() -> Iterator[RunwayEmulator]:
    with RunwayEmulator(EmulatorConfig(seed=11, clock_speed=FAST_CLOCK)) as running:
        yield running


@pytest.fixture
def make_client() -> Iterator[ClientFactory]:
    """Builds clients with test-sized timeouts and backoff; closes them after the test."""
    clients: list[RunwayClient] = []

    def build(base_url: str, api_key: str, **overrides: Any) -> RunwayClient:
        options: dict[str, Any] = {
            "connect_timeout": 1.0,
            "read_timeout": 2.0,
            "max_attempts": 6,
            "backoff_base_s": 0.02,
            "backoff_max_s": 0.1,
            "min_create_window_s": 0.2,
        }
        options.update(overrides)
        client = RunwayClient(base_url, api_key, **options)
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


@pytest.fixture
def client(emulator: RunwayEmulator, make_client: ClientFactory) -> RunwayClient:
    return make_client(emulator.base_url, emulator.api_key)


@pytest.fixture
def scripted() -> Iterator[Callable[[list[ScriptedAnswer]], ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def start(answers: list[ScriptedAnswer]) -> ScriptedServer:
        server = ScriptedServer(answers).__enter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.__exit__()
