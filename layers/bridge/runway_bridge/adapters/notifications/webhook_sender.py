"""Webhook POSTs (httpx) with the SSRF guard applied at send time (docs/events.md, "Webhook delivery").

DNS may answer differently at delivery than at submit, so every attempt checks the URL again and
connects to the very address the guard accepted: the request goes to the IP, with the original
`Host` header and `extensions={"sni_hostname": host}` (httpcore uses it for SNI and for checking
the certificate against the hostname). Redirects are not followed, the whole attempt has one
deadline, and at most `max_response_bytes` of the answer are read, of which the first
`answer_excerpt_bytes` are kept as readable text (`answer_excerpt`). A receiver's behaviour never
raises: every outcome is a `DeliveryResult`.
"""

from __future__ import annotations

import ssl
import time
import unicodedata
from collections.abc import Mapping

import httpx

from runway_bridge.adapters.url_guard import Resolver, UrlGuard, pinned_target
from runway_bridge.errors import CallbackUrlRefusedError
from runway_bridge.models.records import DeliveryResult, UrlChecker
from runway_bridge.settings import BridgeSettings


class HttpxWebhookSender:
    def __init__(
        self,
        check: UrlChecker,
        *,
        timeout_s: float = 15.0,
        max_response_bytes: int = 64 * 1024,
        answer_excerpt_bytes: int = 256,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self._check = check
        self._timeout_s = timeout_s
        self._max_response_bytes = max_response_bytes
        self._answer_excerpt_bytes = min(answer_excerpt_bytes, max_response_bytes)
        # No proxies from the environment: the request must reach the checked address itself.
        self._client = httpx.Client(
            verify=verify, follow_redirects=False, trust_env=False, timeout=httpx.Timeout(timeout_s)
        )

    def send(self, url: str, *, headers: Mapping[str, str], body: bytes) -> DeliveryResult:
        started = time.monotonic()
        try:
            checked = self._check(url)
        except CallbackUrlRefusedError as exc:
            return DeliveryResult(status_code=None, latency_ms=0, error=exc.message, refused=True)
        target, host_header = pinned_target(checked)
        request = self._client.build_request(
            "POST",
            target,
            headers={**headers, "host": host_header},
            content=body,
            extensions={"sni_hostname": checked.host},
        )
        deadline = started + self._timeout_s
        try:
            response = self._client.send(request, stream=True)
            try:
                head = self._read_capped(response, deadline)
            finally:
                response.close()
        except httpx.TimeoutException:
            return self._failed(started, f"no answer within {self._timeout_s:g} s", timed_out=True)
        except httpx.ConnectError as exc:
            return self._failed(started, f"could not connect to {checked.host} ({checked.address}): {exc}")
        except httpx.HTTPError as exc:
            return self._failed(started, f"{type(exc).__name__}: {exc}")
        except TimeoutError:
            return self._failed(started, f"the answer took longer than {self._timeout_s:g} s", timed_out=True)
        latency_ms = int((time.monotonic() - started) * 1000)
        error = None
        if response.is_redirect:
            error = f"redirect to {response.headers.get('location', '?')} not followed"
        elif not response.is_success:
            error = f"the receiver answered {response.status_code}"
        # A compressed answer is not text until decoded, and it is not decoded here (no bombs).
        encoded = response.headers.get("content-encoding", "identity").strip().lower() not in ("", "identity")
        return DeliveryResult(
            status_code=response.status_code,
            latency_ms=latency_ms,
            error=error,
            answer_excerpt=None if encoded else answer_excerpt(head),
        )

    def _read_capped(self, response: httpx.Response, deadline: float) -> bytes:
        """Reads at most `max_response_bytes` (the status is what counts) and returns the first
        `answer_excerpt_bytes` of them."""
        read = 0
        head = bytearray()
        for chunk in response.iter_raw():
            if len(head) < self._answer_excerpt_bytes:
                head += chunk[: self._answer_excerpt_bytes - len(head)]
            read += len(chunk)
            if read >= self._max_response_bytes:
                break
            if time.monotonic() > deadline:
                raise TimeoutError
        return bytes(head)

    @staticmethod
    def _failed(started: float, error: str, *, timed_out: bool = False) -> DeliveryResult:
        return DeliveryResult(
            status_code=None,
            latency_ms=int((time.monotonic() - started) * 1000),
            error=error,
            timed_out=timed_out,
        )

    def close(self) -> None:
        self._client.close()


def answer_excerpt(head: bytes) -> str | None:
    """Bytes of an answer as text safe to show: UTF-8 (undecodable bytes become U+FFFD), line
    breaks and tabs as spaces, other control and format characters (e.g. bidirectional overrides)
    removed; None when nothing readable is left."""
    text = head.decode("utf-8", errors="replace")
    kept = "".join(
        " " if char in "\t\n\r" else char
        for char in text
        if char in "\t\n\r" or unicodedata.category(char) not in ("Cc", "Cf")
    )
    return kept.strip() or None


def webhook_sender_from_settings(
    settings: BridgeSettings, resolver: Resolver | None = None
) -> HttpxWebhookSender:
    guard = UrlGuard.from_settings(settings, resolver)
    verify: ssl.SSLContext | bool = True
    if settings.webhook_ca_bundle:
        verify = ssl.create_default_context(cafile=settings.webhook_ca_bundle)
    return HttpxWebhookSender(
        guard.check,
        timeout_s=settings.webhook_timeout_s,
        max_response_bytes=settings.webhook_max_response_bytes,
        answer_excerpt_bytes=settings.webhook_answer_excerpt_bytes,
        verify=verify,
    )
