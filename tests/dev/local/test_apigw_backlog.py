"""The local API Gateway takes 20 connections opened at once, even before it accepts any (a burst
from a test or a fleet): none is refused, reset or left waiting for a SYN retry."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler

from runway_bridge_dev.local.apigw import _TrackingHTTPServer

SIMULTANEOUS = 20


class Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_twenty_connections_opened_before_any_accept_all_get_answers() -> None:
    server = _TrackingHTTPServer(("127.0.0.1", 0), Ok)
    port = server.server_address[1]
    sockets: list[socket.socket] = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    try:
        # Not serving yet: every connection must complete into the listen backlog. With the
        # socketserver default (5) the sixth and later ones wait for SYN retries and time out here.
        for _ in range(SIMULTANEOUS):
            sockets.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        for connection in sockets:
            connection.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        thread.start()
        for connection in sockets:
            connection.settimeout(60)
            answer = b""
            while chunk := connection.recv(4096):
                answer += chunk
            assert answer.startswith(b"HTTP/1.0 200") or answer.startswith(b"HTTP/1.1 200"), answer
            assert answer.endswith(b"ok")
    finally:
        for connection in sockets:
            connection.close()
        if thread.is_alive():
            server.shutdown()
        server.server_close()
