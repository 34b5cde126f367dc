"""A loopback proxy in front of the Runway emulator that can misbehave on output downloads.

The copier reads the task from the proxy, and output URLs in task bodies are rewritten to the proxy
(their signatures cover task, file and expiry, not the host), so every output byte passes through
here. Faults apply to output GETs (`/_outputs/...`) only:
- `hold_next_output_s`: the next output GET waits this long before being forwarded (the emulator
  then judges the URL's expiry itself);
- `stall_next_output_after`: the next output GET sends this many body bytes, then hangs until
  `release()` (a copier "crashes" mid-upload: its invocation times out while the download hangs);
- `refuse_outputs`: every output GET answers 403, like an expired signed URL;
- `output_status`: every output GET answers this status (e.g. 503 from a CDN having a bad hour).
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

_HOP_HEADERS = frozenset({"connection", "transfer-encoding", "keep-alive", "content-length", "host"})


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.hold_next_output_s: float | None = None
        self.stall_next_output_after: int | None = None
        self.refuse_outputs = False
        self.output_status: int | None = None
        self.output_gets = 0
        self.stalled = threading.Event()
        self._release = threading.Event()
        self._lock = threading.Lock()
        self._client = httpx.Client(timeout=30.0)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return None

            def do_GET(self) -> None:
                proxy._forward(self, "GET")

            def do_POST(self) -> None:
                proxy._forward(self, "POST")

            def do_DELETE(self) -> None:
                proxy._forward(self, "DELETE")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def release(self) -> None:
        """Let a stalled download end (its connection closes)."""
        self._release.set()

    def stop(self) -> None:
        self.refuse_outputs = True
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._client.close()

    def _forward(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else None
        if handler.path.startswith("/_outputs/") and method == "GET":
            self._output(handler)
            return
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in _HOP_HEADERS}
        answer = self._client.request(method, self.upstream + handler.path, headers=headers, content=body)
        content = answer.content
        if answer.headers.get("content-type", "").startswith("application/json"):
            content = content.replace(self.upstream.encode(), self.base_url.encode())
        self._reply(handler, answer.status_code, dict(answer.headers), content)

    def _output(self, handler: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.output_gets += 1
            hold, self.hold_next_output_s = self.hold_next_output_s, None
            stall_after, self.stall_next_output_after = self.stall_next_output_after, None
        if self.refuse_outputs:
            self._reply(handler, 403, {"content-type": "text/plain"}, b"AccessDenied: request has expired\n")
            return
        if self.output_status is not None:
            self._reply(handler, self.output_status, {"content-type": "text/plain"}, b"Service Unavailable\n")
            return
        if hold:
            time.sleep(hold)
        with self._client.stream("GET", self.upstream + handler.path) as answer:
            handler.send_response(answer.status_code)
            for name, value in answer.headers.items():
                if name.lower() not in _HOP_HEADERS or name.lower() == "content-length":
                    handler.send_header(name, value)
            handler.end_headers()
            sent = 0
            for chunk in answer.iter_bytes(256 * 1024):
                if stall_after is not None and sent + len(chunk) > stall_after:
                    handler.wfile.write(chunk[: stall_after - sent])
                    handler.wfile.flush()
                    self.stalled.set()
                    self._release.wait()
                    handler.close_connection = True
                    return
                handler.wfile.write(chunk)
                sent += len(chunk)

    @staticmethod
    def _reply(handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes) -> None:
        handler.send_response(status)
        for name, value in headers.items():
            if name.lower() not in _HOP_HEADERS:
                handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
