"""A scriptable webhook receiver on 127.0.0.1, HTTPS with `trustme` certificates (or plain HTTP).

    with WebhookReceiver(hostname="hooks.receiver.test", statuses=[500, 500, 500, 204]) as receiver:
        url = receiver.url("/hook")          # https://hooks.receiver.test:<port>/hook
        receiver.ca_file                     # PEM of the CA the sender must trust
        ...
        receiver.requests                    # what arrived: path, headers, body, SNI seen

Receivers sharing one `trustme.CA` (the `ca` argument) are all trusted through one CA file.
`statuses` are answered in order, then `default_status`; a status of `HANG` never answers (the
connection stays open until the receiver closes), `REDIRECT` answers 302 to another host. The name
resolves nowhere: senders reach it through a resolver override (hostname -> 127.0.0.1).
"""

from __future__ import annotations

import ssl
import tempfile
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import trustme

HANG = -1
REDIRECT = 302


@dataclass(frozen=True)
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes
    sni: str | None


class WebhookReceiver:
    def __init__(
        self,
        *,
        hostname: str = "hooks.receiver.test",
        tls: bool = True,
        statuses: list[int] | None = None,
        default_status: int = 204,
        response_body: bytes = b"",
        ca: trustme.CA | None = None,
    ) -> None:
        self.hostname = hostname
        self.tls = tls
        self._statuses = list(statuses or [])
        self._default_status = default_status
        self._response_body = response_body
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.requests: list[ReceivedRequest] = []
        self.connections = 0
        self._sni: dict[int, str | None] = {}
        self._tmp = tempfile.TemporaryDirectory(prefix="webhook-receiver-")
        self.ca_file: str | None = None
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        if tls:
            ca = ca or trustme.CA()
            ca_path = Path(self._tmp.name) / "ca.pem"
            ca.cert_pem.write_to_path(str(ca_path))
            self.ca_file = str(ca_path)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ca.issue_cert(hostname).configure_cert(context)
            context.sni_callback = self._record_sni
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str = "/hook") -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.hostname}:{self.port}{path}"

    def set_statuses(self, statuses: list[int], default_status: int | None = None) -> None:
        with self._lock:
            self._statuses = list(statuses)
            if default_status is not None:
                self._default_status = default_status

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._tmp.cleanup()

    def _record_sni(self, sock: ssl.SSLObject, server_name: str, _context: ssl.SSLContext) -> None:
        with self._lock:
            self._last_sni = server_name

    def _next_status(self) -> int:
        with self._lock:
            return self._statuses.pop(0) if self._statuses else self._default_status

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def setup(self) -> None:
                super().setup()
                with receiver._lock:
                    receiver.connections += 1

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                sni = getattr(receiver, "_last_sni", None)
                with receiver._lock:
                    receiver.requests.append(
                        ReceivedRequest(self.path, {k.lower(): v for k, v in self.headers.items()}, body, sni)
                    )
                status = receiver._next_status()
                if status == HANG:
                    receiver._stopping.wait(60)
                    return
                self.send_response(status)
                if status == REDIRECT:
                    self.send_header("location", "https://169.254.169.254/latest/meta-data/")
                self.send_header("content-length", str(len(receiver._response_body)))
                self.end_headers()
                self.wfile.write(receiver._response_body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
