"""Runway's output URLs pass the address guard before the copier fetches them, and so does every
redirect: a URL or a hop naming a private, link-local (metadata) or loopback address is refused
before any connection is made, and the refusal is not retried."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from runway_bridge.adapters.copy.outputs import HttpOutputSource
from runway_bridge.adapters.url_guard import UrlGuard
from runway_bridge.errors import OutputFetchError, OutputUrlRefusedError
from runway_bridge.models.records import CheckedUrl
from runway_bridge.settings import BridgeSettings
from tests.integration.runway_client.scripted_server import ScriptedAnswer, ScriptedServer

CDN = "cdn.outputs.test"  # stands for Runway's public CDN; served by a loopback server here


def strict_guard(**addresses: str) -> UrlGuard:
    """The deployed output guard, with DNS answered from `addresses` (host with dots as _)."""
    table = {host.replace("_", "."): address for host, address in addresses.items()}

    def resolver(host: str) -> list[str]:
        if host not in table:
            raise OSError(f"{host}: no such name")
        return [table[host]]

    return UrlGuard.for_outputs(BridgeSettings(), resolver=resolver)


def source_with_cdn(server: ScriptedServer, guard: UrlGuard, max_redirects: int = 5) -> HttpOutputSource:
    """The real source; only the CDN's own check is a stand-in (it is on loopback here), every
    other host goes through the deployed guard."""
    port = urlsplit(server.base_url).port or 80

    def check(url: str) -> CheckedUrl:
        parts = urlsplit(url)
        if parts.hostname == CDN:
            return CheckedUrl(url=url, scheme="http", host=CDN, port=port, address="127.0.0.1")
        return guard.check(url)

    return HttpOutputSource(check=check, max_redirects=max_redirects)


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer([ScriptedAnswer(200, {"ok": True})]) as running:
        yield running


@pytest.mark.parametrize(
    ("url", "resolves_to", "problem"),
    [
        ("https://outputs.example.com/v.mp4", "10.0.0.5", "private"),
        ("https://outputs.example.com/v.mp4", "127.0.0.1", "loopback"),
        ("https://169.254.169.254/latest/meta-data/", None, "link-local"),
        ("https://[fd00::1]/v.mp4", None, "private"),
        ("http://outputs.example.com/v.mp4", "93.184.216.34", "only https"),
    ],
)
def test_an_output_url_to_a_non_public_address_is_refused_without_a_connection(
    url: str, resolves_to: str | None, problem: str, connections: list[Any]
) -> None:
    guard = strict_guard(outputs_example_com=resolves_to or "93.184.216.34")
    source = HttpOutputSource(check=guard.check)

    with pytest.raises(OutputUrlRefusedError) as refused, source.open(url):
        pass

    assert refused.value.retryable is False
    assert problem in refused.value.message
    assert refused.value.message.startswith("output URL refused:")
    assert connections == []


def test_a_redirect_to_the_metadata_service_is_refused_before_it_is_followed(
    server: ScriptedServer, connections: list[Any]
) -> None:
    server.answers = [ScriptedAnswer(302, headers={"Location": "https://169.254.169.254/latest/meta-data/"})]
    source = source_with_cdn(server, strict_guard())

    with pytest.raises(OutputUrlRefusedError, match="link-local"), source.open(f"http://{CDN}/v.mp4"):
        pass

    assert [request.path for request in server.requests] == ["/v.mp4"]
    assert [address[0] for address in connections] == ["127.0.0.1"]  # never the redirect target


def test_a_redirect_to_a_name_that_resolves_privately_is_refused(
    server: ScriptedServer, connections: list[Any]
) -> None:
    server.answers = [ScriptedAnswer(307, headers={"Location": "https://internal.corp.test/secret"})]
    source = source_with_cdn(server, strict_guard(internal_corp_test="10.1.2.3"))

    with pytest.raises(OutputUrlRefusedError, match="private"), source.open(f"http://{CDN}/v.mp4"):
        pass
    assert [address[0] for address in connections] == ["127.0.0.1"]


def test_redirects_that_pass_the_guard_are_followed_with_the_original_host(server: ScriptedServer) -> None:
    server.answers = [
        ScriptedAnswer(302, headers={"Location": "/moved/v.mp4"}),
        ScriptedAnswer(200, {"video": "bytes"}),
    ]
    source = source_with_cdn(server, strict_guard())

    with source.open(f"http://{CDN}/v.mp4") as download:
        body = b"".join(download.chunks())

    assert body == b'{"video": "bytes"}'
    assert [request.path for request in server.requests] == ["/v.mp4", "/moved/v.mp4"]
    headers = {name.lower(): value for name, value in server.requests[1].headers.items()}
    assert headers["host"].startswith(CDN)


def test_redirects_are_bounded(server: ScriptedServer) -> None:
    server.answers = [ScriptedAnswer(302, headers={"Location": "/again"})]
    source = source_with_cdn(server, strict_guard(), max_redirects=3)

    with pytest.raises(OutputFetchError, match="more than 3") as raised, source.open(f"http://{CDN}/v.mp4"):
        pass
    assert raised.value.retryable is False
    assert len(server.requests) == 4


def test_a_name_that_does_not_resolve_is_retried_later_not_failed() -> None:
    source = HttpOutputSource(check=strict_guard().check)

    with pytest.raises(OutputFetchError) as raised, source.open("https://outputs.example.com/v.mp4"):
        pass
    assert not isinstance(raised.value, OutputUrlRefusedError)
    assert raised.value.retryable is True
