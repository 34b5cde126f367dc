"""The webhook sender's SSRF guard at delivery time: every refused address class is refused with a
clear error before any connection opens; the pinned-address TLS path checks the certificate against
the hostname; redirects are not followed; a silent receiver costs one timeout."""

from __future__ import annotations

from typing import Any

import pytest

from runway_bridge.adapters.notifications.webhook_sender import (
    HttpxWebhookSender,
    webhook_sender_from_settings,
)
from runway_bridge.adapters.url_guard import UrlGuard, resolver_with_overrides
from runway_bridge.settings import BridgeSettings
from tests.integration.notifications.receiver import HANG, REDIRECT, WebhookReceiver

HEADERS = {"content-type": "application/json"}


def sender_resolving(host: str, address: str, **settings: Any) -> HttpxWebhookSender:
    return webhook_sender_from_settings(
        BridgeSettings(**settings), resolver=resolver_with_overrides({host: address}, fallback=_no_dns)
    )


def _no_dns(host: str) -> list[str]:
    raise OSError(f"{host}: no DNS in tests")


BLOCKED_ADDRESSES = {
    "loopback": "127.0.0.1",
    "private 10/8": "10.1.2.3",
    "private 172.16/12": "172.20.0.5",
    "private 192.168/16": "192.168.1.10",
    "link-local": "169.254.10.20",
    "metadata service": "169.254.169.254",
    "CGNAT": "100.64.1.1",
    "multicast": "224.0.0.251",
    "reserved": "240.0.0.1",
    "unspecified": "0.0.0.0",
    "broadcast": "255.255.255.255",
    "IPv6 loopback": "::1",
    "IPv6 unspecified": "::",
    "IPv6 unique local": "fd00::1",
    "IPv6 link-local": "fe80::1",
    "IPv6 multicast": "ff02::1",
    "IPv4-mapped IPv6 loopback": "::ffff:127.0.0.1",
    "IPv4-mapped IPv6 metadata": "::ffff:169.254.169.254",
    "NAT64 of a private address": "64:ff9b::a00:1",
}


@pytest.mark.parametrize("address", BLOCKED_ADDRESSES.values(), ids=BLOCKED_ADDRESSES.keys())
def test_a_hostname_resolving_to_a_blocked_address_is_refused_before_connecting(
    address: str, connections: list[Any]
) -> None:
    result = sender_resolving("hooks.example.com", address).send(
        "https://hooks.example.com/hook", headers=HEADERS, body=b"{}"
    )
    assert result.refused
    assert result.status_code is None
    assert result.error is not None
    assert "hooks.example.com" in result.error
    assert connections == []


LITERAL_URLS = {
    "IPv4 literal": "https://127.0.0.1/hook",
    "decimal IPv4": "https://2130706433/hook",
    "octal IPv4": "https://0177.0.0.1/hook",
    "hex IPv4": "https://0x7f.0.0.1/hook",
    "short hex metadata": "https://0xa9fea9fe/hook",
    "IPv6 literal": "https://[::1]/hook",
    "IPv4-mapped IPv6 literal": "https://[::ffff:7f00:1]/hook",
    "metadata literal": "https://169.254.169.254/latest/meta-data/",
    "plain http": "http://hooks.example.com/hook",
}


@pytest.mark.parametrize("url", LITERAL_URLS.values(), ids=LITERAL_URLS.keys())
def test_blocked_literal_addresses_and_schemes_are_refused_before_connecting(
    url: str, connections: list[Any]
) -> None:
    result = sender_resolving("hooks.example.com", "93.184.216.34").send(url, headers=HEADERS, body=b"{}")
    assert result.refused
    assert result.error is not None
    assert result.error.startswith("callbackUrl refused:")
    assert connections == []


def test_dns_that_changes_after_submit_is_checked_again_at_delivery(connections: list[Any]) -> None:
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])  # public when submitted, loopback later
    guard = UrlGuard(resolver=lambda host: next(answers))
    assert guard.check("https://rebind.example.com/hook").address == "93.184.216.34"  # submit time
    result = HttpxWebhookSender(guard.check).send(
        "https://rebind.example.com/hook", headers=HEADERS, body=b"{}"
    )
    assert result.refused
    assert "loopback" in (result.error or "")
    assert connections == []


def test_the_pinned_address_tls_path_sends_host_and_sni_and_checks_the_certificate() -> None:
    with WebhookReceiver(hostname="hooks.receiver.test") as receiver:
        sender = sender_resolving(
            "hooks.receiver.test",
            "127.0.0.1",
            allow_private_callbacks=True,
            allow_any_callback_port=True,
            webhook_ca_bundle=receiver.ca_file,
        )
        result = sender.send(receiver.url("/pinned?x=1"), headers=HEADERS, body=b'{"a":1}')
        assert result.status_code == 204
        assert result.error is None
        request = receiver.requests[0]
        assert request.path == "/pinned?x=1"
        assert request.headers["host"] == f"hooks.receiver.test:{receiver.port}"
        assert request.sni == "hooks.receiver.test"
        assert request.body == b'{"a":1}'


def test_a_certificate_for_another_name_fails_the_attempt_and_nothing_is_delivered() -> None:
    with WebhookReceiver(hostname="someone-else.test") as receiver:
        sender = sender_resolving(
            "hooks.receiver.test",
            "127.0.0.1",
            allow_private_callbacks=True,
            allow_any_callback_port=True,
            webhook_ca_bundle=receiver.ca_file,
        )
        result = sender.send(f"https://hooks.receiver.test:{receiver.port}/x", headers=HEADERS, body=b"{}")
        assert result.status_code is None
        assert "certificate" in (result.error or "").lower()
        assert receiver.requests == []


def test_a_redirect_is_reported_and_not_followed(connections: list[Any]) -> None:
    with WebhookReceiver(hostname="hooks.receiver.test", statuses=[REDIRECT]) as receiver:
        sender = sender_resolving(
            "hooks.receiver.test",
            "127.0.0.1",
            allow_private_callbacks=True,
            allow_any_callback_port=True,
            webhook_ca_bundle=receiver.ca_file,
        )
        result = sender.send(receiver.url("/r"), headers=HEADERS, body=b"{}")
        assert result.status_code == REDIRECT
        assert result.error == "redirect to https://169.254.169.254/latest/meta-data/ not followed"
        assert len(receiver.requests) == 1
        assert [address[0] for address in connections] == ["127.0.0.1"]  # never the redirect target


def test_a_silent_receiver_costs_one_timeout() -> None:
    with WebhookReceiver(hostname="hooks.receiver.test", statuses=[HANG]) as receiver:
        sender = sender_resolving(
            "hooks.receiver.test",
            "127.0.0.1",
            allow_private_callbacks=True,
            allow_any_callback_port=True,
            webhook_ca_bundle=receiver.ca_file,
            webhook_timeout_s=0.5,
        )
        result = sender.send(receiver.url("/slow"), headers=HEADERS, body=b"{}")
        assert result.status_code is None
        assert result.error == "no answer within 0.5 s"
        assert 400 <= result.latency_ms < 3000


def test_a_huge_answer_is_read_only_up_to_the_cap() -> None:
    body = b"x" * (8 * 1024 * 1024)
    with WebhookReceiver(hostname="hooks.receiver.test", default_status=200, response_body=body) as receiver:
        sender = sender_resolving(
            "hooks.receiver.test",
            "127.0.0.1",
            allow_private_callbacks=True,
            allow_any_callback_port=True,
            webhook_ca_bundle=receiver.ca_file,
            webhook_max_response_bytes=1024,
        )
        result = sender.send(receiver.url("/big"), headers=HEADERS, body=b"{}")
        assert result.status_code == 200
        assert result.error is None


def test_the_first_bytes_of_the_answer_are_kept_as_readable_text() -> None:
    answer = b"denied:\x00\x1b\r\nreason\xe2\x80\xae " + "é".encode() * 100
    with WebhookReceiver(statuses=[400], response_body=answer) as receiver:
        sender = sender_resolving(
            "hooks.receiver.test",
            "127.0.0.1",
            allow_private_callbacks=True,
            allow_any_callback_port=True,
            webhook_ca_bundle=receiver.ca_file,
            webhook_answer_excerpt_bytes=32,
        )
        result = sender.send(receiver.url("/h"), headers=HEADERS, body=b"{}")
    assert result.status_code == 400
    # 32 bytes: the control and format characters go, the line break becomes spaces, and the
    # character the cap cut in two reads as U+FFFD.
    assert result.answer_excerpt == "denied:  reason ééééé\ufffd"
