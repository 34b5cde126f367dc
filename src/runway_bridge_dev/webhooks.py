"""A webhook receiver for the benchmarks: it listens on 127.0.0.1, verifies each delivery's
Standard Webhooks signature, and records when each event first arrived (a refused signature is
answered 400 and counted)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

# The receiver listens on http://127.0.0.1, which the bridge's SSRF guard refuses by default.
LOOPBACK_CALLBACKS = {
    "BRIDGE_ALLOW_PRIVATE_CALLBACKS": "true",
    "BRIDGE_ALLOW_HTTP_CALLBACKS": "true",
    "BRIDGE_ALLOW_ANY_CALLBACK_PORT": "true",
}


def allow_loopback_callbacks() -> None:
    """Let the local stack (started after this, in this process) call back to the receiver."""
    for name, value in LOOPBACK_CALLBACKS.items():
        os.environ.setdefault(name, value)


@dataclass(frozen=True)
class Arrival:
    event_type: str
    job_id: str
    at: float  # epoch seconds


class WebhookArrivals:
    """Event id -> its first arrival; shared by the receiver's threads and the reader."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: dict[str, Arrival] = {}
        self.rejected = 0

    def note(self, event_id: str, arrival: Arrival) -> None:
        with self._lock:
            self._events.setdefault(event_id, arrival)

    def reject(self) -> None:
        with self._lock:
            self.rejected += 1

    def first_by_job(self, event_types: Collection[str]) -> dict[str, float]:
        """Job id -> when the first event of one of `event_types` arrived for it."""
        with self._lock:
            found: dict[str, float] = {}
            for arrival in self._events.values():
                if arrival.event_type in event_types:
                    found[arrival.job_id] = min(found.get(arrival.job_id, arrival.at), arrival.at)
            return found


@contextmanager
def webhook_receiver(secret: str, arrivals: WebhookArrivals) -> Iterator[str]:
    """Serve on a free loopback port; yields the callback URL."""
    verifier = Webhook(secret)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            at = time.time()
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            try:
                payload = verifier.verify(body, {k.lower(): v for k, v in self.headers.items()})
            except WebhookVerificationError:
                arrivals.reject()
                self.send_response(400)
                self.end_headers()
                return
            arrivals.note(payload["id"], Arrival(payload["type"], payload["data"]["jobId"], at))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
