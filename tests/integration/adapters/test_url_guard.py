"""SSRF guard: one case per refused address class, in IPv4, IPv6, embedded and odd spellings.
The resolver is injected, so nothing here leaves the machine."""

from __future__ import annotations

import socket
import threading
from collections.abc import Sequence
from typing import Any

import pytest

from runway_bridge.adapters import url_guard
from runway_bridge.adapters.url_guard import UrlGuard, parse_numeric_ipv4
from runway_bridge.errors import CallbackUrlRefusedError
from runway_bridge.settings import BridgeSettings

PUBLIC_V4 = "93.184.216.34"


def resolving_to(*addresses: str) -> UrlGuard:
    def resolver(host: str) -> Sequence[str]:
        return list(addresses)

    return UrlGuard(resolver=resolver)


def refusal(guard: UrlGuard, url: str) -> CallbackUrlRefusedError:
    with pytest.raises(CallbackUrlRefusedError) as refused:
        guard.check(url)
    assert refused.value.http_status == 400
    return refused.value


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.1.2.3", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("100.127.255.254", "carrier-grade NAT"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("192.0.2.10", "private"),  # documentation range: not routable
        ("::ffff:127.0.0.1", "loopback address (embedded in IPv6)"),
        ("::ffff:169.254.169.254", "link-local"),
        ("64:ff9b::a00:1", "private address (embedded in IPv6)"),  # NAT64 of 10.0.0.1
        ("2002:7f00:1::", "loopback address (embedded in IPv6)"),  # 6to4 of 127.0.0.1
    ],
)
def test_a_resolved_address_of_a_refused_class_is_refused_with_its_kind(address: str, kind: str) -> None:
    refused = refusal(resolving_to(address), "https://hooks.example.com/x")

    assert refused.reason == "address"
    assert kind in refused.message


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "[::1]", "[::ffff:127.0.0.1]", "169.254.169.254", "[fe80::1]", "100.64.0.1", "10.0.0.1"],
)
def test_literal_addresses_of_refused_classes_are_refused_without_resolving(host: str) -> None:
    def no_dns(name: str) -> Sequence[str]:
        raise AssertionError(f"resolved {name}")

    refused = refusal(UrlGuard(resolver=no_dns), f"https://{host}/hook")
    assert refused.reason == "address"


@pytest.mark.parametrize(
    ("host", "means"),
    [
        ("2130706433", "127.0.0.1"),  # decimal
        ("0177.0.0.1", "127.0.0.1"),  # octal
        ("0x7f.1", "127.0.0.1"),  # hex, short form
        ("0x7f000001", "127.0.0.1"),
        ("127.1", "127.0.0.1"),  # short form
        ("0251.0376.0251.0376", "169.254.169.254"),
        ("017700000001", "127.0.0.1"),
    ],
)
def test_odd_numeric_spellings_are_read_like_inet_aton_and_refused(host: str, means: str) -> None:
    assert str(parse_numeric_ipv4(host)) == means
    refused = refusal(resolving_to(PUBLIC_V4), f"https://{host}/hook")

    assert refused.reason == "address"
    assert f"unusual spelling of {means}" in refused.message
    assert "loopback" in refused.message or "link-local" in refused.message


def test_an_odd_spelling_of_a_public_address_is_refused_too() -> None:
    refused = refusal(resolving_to(PUBLIC_V4), "https://1572395042/hook")  # 93.184.216.34
    assert refused.reason == "address"


def test_one_private_answer_among_public_ones_refuses_the_url() -> None:
    refused = refusal(resolving_to(PUBLIC_V4, "10.0.0.5"), "https://hooks.example.com/x")
    assert "10.0.0.5" in refused.message


def test_a_public_name_passes_and_the_checked_address_is_returned() -> None:
    checked = resolving_to(PUBLIC_V4).check("https://hooks.example.com:8443/runway?x=1")

    assert checked.address == PUBLIC_V4
    assert checked.host == "hooks.example.com"
    assert checked.port == 8443
    assert checked.scheme == "https"


def test_a_public_ipv6_literal_passes() -> None:
    checked = UrlGuard().check("https://[2606:4700:4700::1111]/hook")
    assert checked.address == "2606:4700:4700::1111"
    assert checked.port == 443


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.com/x", "scheme"),
        ("ftp://hooks.example.com/x", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("https://user:secret@hooks.example.com/x", "credentials"),
        ("https:///nohost", "malformed"),
        ("https://hooks.example.com:0/x", "malformed"),
        ("https://hooks.example.com:99999/x", "malformed"),
        ("https://hooks.example.com/a b", "malformed"),
        ("https://[fe80::1%25eth0]/x", "address"),
        ("https://1.2.3.4.5/x", "malformed"),
    ],
)
def test_unusable_urls_are_refused_with_a_reason(url: str, reason: str) -> None:
    assert refusal(resolving_to(PUBLIC_V4), url).reason == reason


def test_a_name_that_does_not_resolve_is_refused() -> None:
    def nxdomain(host: str) -> Sequence[str]:
        raise OSError("Name or service not known")

    refused = refusal(UrlGuard(resolver=nxdomain), "https://nowhere.invalid/x")
    assert refused.reason == "unresolvable"


def test_local_development_may_allow_http_and_private_addresses() -> None:
    guard = UrlGuard(allow_http=True, allow_private=True, ports=None)
    checked = guard.check("http://127.0.0.1:8080/hook")

    assert (checked.address, checked.port, checked.scheme) == ("127.0.0.1", 8080, "http")
    # Relaxing the address rule does not relax the scheme rule and vice versa.
    assert refusal(UrlGuard(allow_private=True, ports=None), "http://127.0.0.1/x").reason == "scheme"
    assert refusal(UrlGuard(allow_http=True, ports=None), "http://127.0.0.1/x").reason == "address"


# --- ports ------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["https://hooks.example.com/x", "https://hooks.example.com:8443/x"])
def test_callbacks_on_443_and_8443_pass(url: str) -> None:
    assert resolving_to(PUBLIC_V4).check(url).address == PUBLIC_V4


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com:22/x",
        "https://hooks.example.com:6379/x",
        "https://hooks.example.com:8080/x",
        "https://hooks.example.com:444/x",
    ],
)
def test_callbacks_on_other_ports_are_refused_with_the_allowed_ones_named(url: str) -> None:
    refused = refusal(resolving_to(PUBLIC_V4), url)
    assert refused.reason == "port"
    assert "443, 8443" in refused.message


def test_the_allowed_ports_come_from_the_settings_and_local_development_allows_any() -> None:
    public = lambda host: [PUBLIC_V4]  # noqa: E731
    listed = UrlGuard.from_settings(BridgeSettings(callback_ports=[9443]), resolver=public)
    assert listed.check("https://hooks.example.com:9443/x").port == 9443
    assert refusal(listed, "https://hooks.example.com/x").reason == "port"

    relaxed = UrlGuard.from_settings(BridgeSettings(allow_any_callback_port=True), resolver=public)
    assert relaxed.check("https://hooks.example.com:6379/x").port == 6379


def test_the_api_refuses_a_callback_on_another_port_with_callback_url_refused() -> None:
    refused = refusal(resolving_to(PUBLIC_V4), "https://hooks.example.com:25/x")
    assert refused.code == "callback_url_refused"


# --- DNS lookups: one tenant's hanging names do not starve the others ------------------------


def test_hanging_lookups_of_one_name_do_not_delay_another_name(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: str, *args: Any, **kwargs: Any) -> Any:
        if host.endswith("slow.example"):
            release.wait(60)  # a name server that never answers (until the test ends)
            raise socket.gaierror("gave up")
        if host == "fast.example.org":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC_V4, 0))]
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    try:
        # Five checks of the slow name each give up after their (shortened) deadline or at once;
        # their lookups stay hung.
        monkeypatch.setattr(url_guard, "RESOLVE_TIMEOUT_S", 0.05)
        slow = UrlGuard()
        for _ in range(5):
            assert refusal(slow, "https://hooks.slow.example/x").reason == "unresolvable"
        # Another tenant's name gets a generous deadline: with the lookups starved it would wait
        # all of it and be refused; with its own slot it resolves.
        monkeypatch.setattr(url_guard, "RESOLVE_TIMEOUT_S", 30.0)
        assert slow.check("https://fast.example.org/hook").address == PUBLIC_V4
    finally:
        release.set()


def test_a_name_whose_lookups_hang_fails_at_once_instead_of_queueing() -> None:
    release = threading.Event()
    started: list[str] = []

    def lookup(host: str) -> Sequence[str]:
        started.append(host)
        release.wait(60)
        return [PUBLIC_V4]

    resolver = url_guard.BoundedResolver(lookup, timeout_s=0.01, max_per_name=2, max_per_zone=3)
    try:
        for _ in range(2):
            with pytest.raises(OSError, match="took longer"):
                resolver("a.slow.example")
        with pytest.raises(OSError, match="still unanswered"):
            resolver("a.slow.example")  # both slots of the name are held
        with pytest.raises(OSError, match="took longer"):
            resolver("b.slow.example")  # the zone's third slot
        with pytest.raises(OSError, match="still unanswered"):
            resolver("c.slow.example")  # the zone is full
        assert started == ["a.slow.example", "a.slow.example", "b.slow.example"]
    finally:
        release.set()


def test_a_lookup_gives_its_slots_back_when_it_ends() -> None:
    answers = iter([OSError("no such name"), [PUBLIC_V4], [PUBLIC_V4]])

    def lookup(host: str) -> Sequence[str]:
        answer = next(answers)
        if isinstance(answer, OSError):
            raise answer
        return answer

    resolver = url_guard.BoundedResolver(lookup, timeout_s=30.0, max_per_name=1, max_per_zone=1)
    with pytest.raises(OSError, match="no such name"):
        resolver("hooks.example.com")
    assert resolver("hooks.example.com") == [PUBLIC_V4]
    assert resolver("hooks.example.com") == [PUBLIC_V4]
