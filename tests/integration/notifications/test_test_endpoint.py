"""`POST /v1/webhooks/test` may name any host, so its answer must not be a network probe: the status
code and latency, and for a failure only a fixed category, never the error text of the attempt
(addresses, TLS or socket details of whatever answered)."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from typing import Any

import pytest

from runway_bridge.adapters.notifications.webhook_sender import (
    HttpxWebhookSender,
    webhook_sender_from_settings,
)
from runway_bridge.adapters.url_guard import UrlGuard, resolver_with_overrides
from runway_bridge.logic.notifications.admin import (
    TEST_CONNECTION_FAILED,
    TEST_ERROR_STATUS,
    TEST_REDIRECT,
    TEST_REFUSED,
    TEST_TIMED_OUT,
    WebhookAdmin,
)
from runway_bridge.logic.notifications.delivery import WebhookDelivery
from runway_bridge.settings import BridgeSettings
from tests.integration.notifications.receiver import HANG, REDIRECT, WebhookReceiver

CATEGORIES = {TEST_CONNECTION_FAILED, TEST_ERROR_STATUS, TEST_REDIRECT, TEST_REFUSED, TEST_TIMED_OUT}


class Secrets:
    def signing_secrets(self, tenant_id: str) -> list[str]:
        return ["whsec_dGVzdC1zZWNyZXQtZm9yLXRoZS10ZXN0LWhvb2s="]


def admin_with(sender: HttpxWebhookSender, check: Any = lambda url: None) -> WebhookAdmin:
    unused: Any = None
    delivery = WebhookDelivery(
        jobs=unused,
        attempts=unused,
        secrets=Secrets(),  # type: ignore[arg-type]
        sender=sender,
        channels=[],
        dead_letters=unused,
        render=unused,
        schedule_s=[0.0],
        clock=lambda: datetime.now(UTC),
    )
    return WebhookAdmin(
        jobs=unused,
        events=unused,
        queue=None,
        redriver=None,
        secrets=unused,
        delivery=delivery,
        check_url=check,
        links=None,
        presign=unused,
        rotation_overlap_s=0,
    )


def loopback_sender(receiver: WebhookReceiver | None = None, **settings: Any) -> HttpxWebhookSender:
    return webhook_sender_from_settings(
        BridgeSettings(
            allow_private_callbacks=True,
            # Local receivers listen on free ports, not 443.
            allow_any_callback_port=True,
            webhook_ca_bundle=receiver.ca_file if receiver else None,
            **settings,
        ),
        resolver=resolver_with_overrides({"hooks.receiver.test": "127.0.0.1"}, fallback=lambda host: []),
    )


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_refused_connection_answers_a_category_not_the_socket_error() -> None:
    port = closed_port()
    raw = loopback_sender().send(f"https://hooks.receiver.test:{port}/x", headers={}, body=b"{}")
    assert raw.error is not None
    assert "127.0.0.1" in raw.error  # what the attempt itself knows (logged, kept in attempt records)

    result = admin_with(loopback_sender()).send_test("acme", f"https://hooks.receiver.test:{port}/x")

    assert (result.status_code, result.error) == (None, TEST_CONNECTION_FAILED)


def test_a_tls_failure_answers_connection_failed_without_certificate_details() -> None:
    with WebhookReceiver(hostname="someone-else.test") as receiver:
        result = admin_with(loopback_sender(receiver)).send_test(
            "acme", f"https://hooks.receiver.test:{receiver.port}/x"
        )
    assert (result.status_code, result.error) == (None, TEST_CONNECTION_FAILED)


def test_a_silent_receiver_answers_timed_out_with_the_latency() -> None:
    with WebhookReceiver(statuses=[HANG]) as receiver:
        sender = loopback_sender(receiver, webhook_timeout_s=0.5)
        result = admin_with(sender).send_test("acme", receiver.url("/slow"))
    assert (result.status_code, result.error) == (None, TEST_TIMED_OUT)
    assert result.latency_ms >= 400


@pytest.mark.parametrize(
    ("status", "category"), [(REDIRECT, TEST_REDIRECT), (503, TEST_ERROR_STATUS), (204, None)]
)
def test_an_answer_reports_its_status_code_and_only_a_category(status: int, category: str | None) -> None:
    with WebhookReceiver(statuses=[status]) as receiver:
        result = admin_with(loopback_sender(receiver)).send_test("acme", receiver.url("/t"))
    assert result.status_code == status
    assert result.error == category  # a redirect's Location (here the metadata service) is not echoed


def test_the_test_event_shows_no_part_of_the_answer() -> None:
    with WebhookReceiver(statuses=[500], response_body=b"internal host db-7.corp refused") as receiver:
        result = admin_with(loopback_sender(receiver)).send_test("acme", receiver.url("/t"))
    assert (result.status_code, result.error, result.answer_excerpt) == (500, TEST_ERROR_STATUS, None)


def test_an_address_refused_at_send_time_answers_the_guard_category() -> None:
    answers = iter([["93.184.216.34"], ["10.0.0.7"]])  # public when checked, private when sent
    guard = UrlGuard(resolver=lambda host: next(answers))
    result = admin_with(HttpxWebhookSender(guard.check), check=guard.check).send_test(
        "acme", "https://rebind.example.com/hook"
    )
    assert (result.status_code, result.error) == (None, TEST_REFUSED)
    assert result.error in CATEGORIES
