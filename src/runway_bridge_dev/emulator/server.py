"""The emulator's HTTP server: Runway's API under /v1, signed output and upload URLs, admin routes.

Built on the standard library's threading HTTP server because it lets a handler close a socket
without answering (the "accepted then dropped" fault) and stream bodies of any size.
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import hmac
import json
import logging
import socket
import threading
import time
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from pydantic import ValidationError

from runway_bridge.models.operations import OPERATIONS, validate_create_request
from runway_bridge.models.runway import RUNWAY_API_VERSION, UploadRequest, describe_validation_error
from runway_bridge_dev.emulator.config import EmulatorConfig
from runway_bridge_dev.emulator.inputs import InputFetchError, as_runway_would_see, fetch_loopback_inputs
from runway_bridge_dev.emulator.media import output_file
from runway_bridge_dev.emulator.state import (
    RUNWAY_URI_PREFIX,
    EmulatedTask,
    EmulatorState,
)

logger = logging.getLogger(__name__)

MAX_JSON_BODY = 16 * 1024 * 1024  # data: URIs of up to 5 MB, base64-encoded, fit with room to spare.
MAX_UPLOAD_BODY = 256 * 1024 * 1024
IDLE_CONNECTION_TIMEOUT_S = 60
OUTPUT_EXTENSIONS = {"video": ".mp4", "audio": ".wav"}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Benchmarks open many connections at once; the default backlog of 5 would refuse some.
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], state: EmulatorState) -> None:
        self.state = state
        self.open_connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        self.base_url = ""
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive, like the real API behind its load balancer
    timeout = IDLE_CONNECTION_TIMEOUT_S
    server_version = "runway-emulator"
    # Headers and body go out in separate writes; with Nagle on, each answer waits ~40 ms for an ACK.
    disable_nagle_algorithm = True

    # --- connection bookkeeping (so stop() can close idle keep-alive sockets) ----------------

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.open_connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.connections_lock:
                self.server.open_connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)

    @property
    def state(self) -> EmulatorState:
        return self.server.state

    # --- dispatch ----------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def __getattr__(self, name: str) -> Any:
        # Any other method (OPTIONS, TRACE, QUERY, ...) goes through the router and gets its 4xx:
        # the standard library would answer 501, a server error clients read as an emulator fault.
        if name.startswith("do_"):
            return lambda: self._dispatch(name.removeprefix("do_"))
        raise AttributeError(name)

    def _dispatch(self, method: str) -> None:
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        limit = MAX_UPLOAD_BODY if path.startswith("/_uploads/") else MAX_JSON_BODY
        body = self._read_body(limit)
        if body is None:
            return
        try:
            if path.startswith("/v1/") or path == "/v1":
                self._api(method, path, body)
            elif path.startswith("/_outputs/") and method in {"GET", "HEAD"}:
                self._output(method, path, urllib.parse.parse_qs(url.query), head=method == "HEAD")
            elif path.startswith("/_uploads/") and method == "POST":
                self._upload_form(path, body)
            elif path.startswith("/_emulator/"):
                self._admin(method, path, body)
            else:
                self._send_error(HTTPStatus.NOT_FOUND, f"no route for {method} {path}", "NOT_FOUND")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _read_body(self, limit: int) -> bytes | None:
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            return b""
        try:
            length = int(length_header)
        except ValueError:
            self._send_error(HTTPStatus.BAD_REQUEST, "invalid Content-Length", "INVALID_REQUEST")
            self.close_connection = True
            return None
        if length > limit:
            self._send_error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "request body too large", "TOO_LARGE")
            self.close_connection = True
            return None
        return self.rfile.read(length)

    # --- /v1: the Runway API -----------------------------------------------------------------

    def _api(self, method: str, path: str, body: bytes) -> None:
        route, task_id = _route_template(method, path)
        self.state.count(route)
        config = self.state.config
        injected = self.state.injected_error_status(create=_is_create(route))
        if injected is not None:
            time.sleep(config.latency_s)
            self._send_fault(injected, config)
            return
        answer = self._api_answer(method, route, task_id, body, config)
        time.sleep(config.latency_s)
        if answer is None:  # accepted, then dropped: close without a byte of answer
            self.close_connection = True
            return
        status, payload, headers = answer
        self._send_json(status, payload, headers)

    def _api_answer(
        self, method: str, route: str, task_id: str | None, body: bytes, config: EmulatorConfig
    ) -> tuple[int, Any, dict[str, str]] | None:
        authorization = self.headers.get("Authorization", "")
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or not _same(key.strip(), config.api_key):
            return _error(HTTPStatus.UNAUTHORIZED, "Invalid or missing API key.", "UNAUTHORIZED")
        version = self.headers.get("X-Runway-Version")
        if version != RUNWAY_API_VERSION:
            return _error(
                HTTPStatus.BAD_REQUEST,
                f"X-Runway-Version header must be {RUNWAY_API_VERSION!r} (got {version!r}).",
                "INVALID_VERSION",
            )
        operation = route.removeprefix("POST /v1/")
        if method == "POST" and operation in OPERATIONS:
            return self._create(operation, body, config)
        if route == "POST /v1/uploads":
            return self._create_upload(body)
        if task_id is not None and method == "GET":
            return self._get_task(task_id)
        if task_id is not None and method == "DELETE":
            if not self.state.delete_task(task_id):
                return _task_not_found(task_id)
            return HTTPStatus.NO_CONTENT, None, {}
        return _error(HTTPStatus.NOT_FOUND, f"no route for {route}", "NOT_FOUND")

    def _create(
        self, operation: str, body: bytes, config: EmulatorConfig
    ) -> tuple[int, Any, dict[str, str]] | None:
        parsed = _parse_json(body)
        if isinstance(parsed, str):
            return _error(HTTPStatus.BAD_REQUEST, parsed, "INVALID_REQUEST")
        checked = (
            as_runway_would_see(operation, parsed)
            if config.fetch_inputs and isinstance(parsed, dict)
            else parsed
        )
        try:
            validate_create_request(operation, checked, passthrough=config.passthrough)  # type: ignore[arg-type]
        except ValidationError as exc:
            return _error(HTTPStatus.BAD_REQUEST, describe_validation_error(exc), "INVALID_REQUEST")
        for uri in _runway_uris(parsed):
            if not self.state.runway_uri_usable(uri):
                return _error(
                    HTTPStatus.BAD_REQUEST,
                    f"{uri} is not a completed, unexpired upload of this account.",
                    "INVALID_REQUEST",
                )
        fetched: list[dict[str, Any]] = []
        if config.fetch_inputs:
            try:
                fetched = [item.to_json() for item in fetch_loopback_inputs(operation, parsed)]  # type: ignore[arg-type]
            except InputFetchError as exc:
                return _error(HTTPStatus.BAD_REQUEST, str(exc), "INVALID_REQUEST")
        task = self.state.create_task(operation, parsed, inputs_fetched=fetched)  # type: ignore[arg-type]
        if task is None:
            retry_after = config.retry_after_s
            if retry_after is None:
                retry_after = self.state.seconds_until_cap_resets() / self.state.clock.speed
            return _error(
                HTTPStatus.TOO_MANY_REQUESTS,
                "You have reached your daily task limit.",
                "DAILY_LIMIT_REACHED",
                {"Retry-After": _seconds_header(retry_after)},
            )
        if self.state.should_drop_create():
            return None
        return HTTPStatus.OK, {"id": task.id}, {}

    def _create_upload(self, body: bytes) -> tuple[int, Any, dict[str, str]]:
        parsed = _parse_json(body)
        if isinstance(parsed, str):
            return _error(HTTPStatus.BAD_REQUEST, parsed, "INVALID_REQUEST")
        try:
            request = UploadRequest.model_validate(parsed)
        except ValidationError as exc:
            return _error(HTTPStatus.BAD_REQUEST, describe_validation_error(exc), "INVALID_REQUEST")
        upload = self.state.create_upload(request.filename)
        return (
            HTTPStatus.OK,
            {
                "id": upload.id,
                "uploadUrl": f"{self.server.base_url}/_uploads/{upload.id}",
                "fields": {"key": upload.id, "signature": upload.signature},
                "runwayUri": f"{RUNWAY_URI_PREFIX}{upload.id}",
            },
            {},
        )

    def _get_task(self, task_id: str) -> tuple[int, Any, dict[str, str]]:
        task = self.state.get_task(task_id)
        if task is None:
            return _task_not_found(task_id)
        answer = self.state.task_json(task, self._output_url)
        self.state.note_read(task, answer["status"])
        return HTTPStatus.OK, answer, {}

    def _output_url(self, task: EmulatedTask, index: int, expires: float) -> str:
        name = f"{index}{OUTPUT_EXTENSIONS[task.output_kind]}"
        expiry = f"{expires:.3f}"
        signature = self.state.sign(f"{task.id}/{name}/{expiry}")
        return f"{self.server.base_url}/_outputs/{task.id}/{name}?expires={expiry}&signature={signature}"

    def _send_fault(self, status: int, config: EmulatorConfig) -> None:
        headers: dict[str, str] = {}
        if status in {429, 503} and config.retry_after_s is not None:
            headers["Retry-After"] = _seconds_header(config.retry_after_s)
        phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
        code = "RATE_LIMITED" if status == 429 else "INJECTED_FAULT"
        self._send_json(status, {"error": f"{phrase} (injected by the emulator)", "code": code}, headers)

    # --- signed output URLs --------------------------------------------------------------------

    def _output(self, method: str, path: str, query: dict[str, list[str]], *, head: bool) -> None:
        parts = path.split("/")  # ["", "_outputs", task_id, name]
        expiry = (query.get("expires") or [""])[0]
        signature = (query.get("signature") or [""])[0]
        if len(parts) != 4 or not self.state.signature_valid(f"{parts[2]}/{parts[3]}/{expiry}", signature):
            self._send_plain(HTTPStatus.FORBIDDEN, "AccessDenied: invalid signature\n", head=head)
            return
        if float(expiry) <= self.state.clock.now():
            self._send_plain(HTTPStatus.FORBIDDEN, "AccessDenied: request has expired\n", head=head)
            return
        task = self.state.get_task(parts[2])
        if task is None or task.status_at(self.state.clock.now()) != "SUCCEEDED":
            self._send_plain(HTTPStatus.NOT_FOUND, "NoSuchKey\n", head=head)
            return
        media = output_file(task.output_kind, self.state.config.output_padding_bytes)
        start, end = 0, media.size - 1
        status = HTTPStatus.OK
        headers = {"Content-Type": media.content_type, "Accept-Ranges": "bytes"}
        requested = _parse_range(self.headers.get("Range"), media.size)
        if requested == "invalid":
            self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
            self.send_header("Content-Range", f"bytes */{media.size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if isinstance(requested, tuple):
            start, end = requested
            status = HTTPStatus.PARTIAL_CONTENT
            headers["Content-Range"] = f"bytes {start}-{end}/{media.size}"
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        if head:
            return
        for chunk in media.iter_range(start, end):
            self.wfile.write(chunk)

    # --- upload form (what the SDK posts to `uploadUrl`) ---------------------------------------

    def _upload_form(self, path: str, body: bytes) -> None:
        upload_id = path.removeprefix("/_uploads/")
        content_type = self.headers.get("Content-Type", "")
        if not content_type.startswith("multipart/form-data"):
            self._send_plain(HTTPStatus.BAD_REQUEST, "expected multipart/form-data\n")
            return
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
        )
        fields: dict[str, str] = {}
        file_size: int | None = None
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if not isinstance(name, str) or not isinstance(payload, bytes):
                continue
            if name == "file":
                file_size = len(payload)
            else:
                fields[name] = payload.decode("utf-8", "replace")
        if file_size is None:
            self._send_plain(HTTPStatus.BAD_REQUEST, "the form has no file part\n")
            return
        if fields.get("key") != upload_id or not self.state.complete_upload(
            upload_id, fields.get("signature", ""), file_size
        ):
            self._send_plain(HTTPStatus.FORBIDDEN, "AccessDenied: invalid upload signature\n")
            return
        self.send_response(HTTPStatus.NO_CONTENT)
        self.send_header("Content-Length", "0")
        self.end_headers()

    # --- admin ---------------------------------------------------------------------------------

    def _admin(self, method: str, path: str, body: bytes) -> None:
        route = f"{method} {path}"
        if route == "GET /_emulator/counters":
            self._send_json(HTTPStatus.OK, self.state.counter_snapshot())
        elif route == "POST /_emulator/reset":
            self.state.reset_counters()
            self._send_json(HTTPStatus.OK, self.state.counter_snapshot())
        elif route == "GET /_emulator/config":
            self._send_json(HTTPStatus.OK, self.state.config.model_dump(mode="json"))
        elif route == "PATCH /_emulator/config":
            parsed = _parse_json(body)
            if not isinstance(parsed, dict):
                self._send_error(HTTPStatus.BAD_REQUEST, "expected a JSON object", "INVALID_REQUEST")
                return
            try:
                config = self.state.update_config(parsed)
            except ValidationError as exc:
                self._send_error(HTTPStatus.BAD_REQUEST, describe_validation_error(exc), "INVALID_REQUEST")
                return
            self._send_json(HTTPStatus.OK, config.model_dump(mode="json"))
        elif route == "GET /_emulator/tasks":
            self._send_json(HTTPStatus.OK, self.state.all_task_reports())
        else:
            self._send_error(HTTPStatus.NOT_FOUND, f"no admin route {route}", "NOT_FOUND")

    # --- writing answers -----------------------------------------------------------------------

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if payload is not None:
            self.send_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_error(self, status: int, message: str, code: str) -> None:
        self._send_json(status, {"error": message, "code": code})

    def _send_plain(self, status: int, text: str, *, head: bool = False) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if not head:
            self.wfile.write(data)


def _is_create(route: str) -> bool:
    """Whether a counter key (see `_route_template`) is a task create, e.g. "POST /v1/text_to_video"."""
    return route.startswith("POST /v1/") and route.removeprefix("POST /v1/") in OPERATIONS


def _route_template(method: str, path: str) -> tuple[str, str | None]:
    """The counter key of a /v1 request, e.g. "GET /v1/tasks/{id}", and the task id if any."""
    segments = path.strip("/").split("/")
    if len(segments) == 3 and segments[1] == "tasks" and segments[2]:
        return f"{method} /v1/tasks/{{id}}", segments[2]
    return f"{method} {path.rstrip('/')}", None


def _error(
    status: int, message: str, code: str, headers: dict[str, str] | None = None
) -> tuple[int, Any, dict[str, str]]:
    return status, {"error": message, "code": code}, headers or {}


def _task_not_found(task_id: str) -> tuple[int, Any, dict[str, str]]:
    return _error(HTTPStatus.NOT_FOUND, f"Task {task_id} not found.", "NOT_FOUND")


def _same(given: str, expected: str) -> bool:
    """Constant-time comparison, so the key cannot be guessed from answer timing."""
    return hmac.compare_digest(given.encode(), expected.encode())


def _parse_json(body: bytes) -> Any:
    """The decoded JSON body, or a readable message (a str) saying why it is not valid JSON."""
    if not body:
        return "request body must be a JSON object"
    try:
        parsed = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return f"request body is not valid JSON: {exc}"
    if not isinstance(parsed, dict):
        return "request body must be a JSON object"
    return parsed


def _runway_uris(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value.startswith("runway://") else []
    if isinstance(value, dict):
        return [uri for item in value.values() for uri in _runway_uris(item)]
    if isinstance(value, list):
        return [uri for item in value for uri in _runway_uris(item)]
    return []


def _seconds_header(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:.3f}"


def _parse_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """A single `bytes=` range as (start, end) inclusive; None for no range; "invalid" if unsatisfiable."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, _, last = header.removeprefix("bytes=").strip().partition("-")
    try:
        if first == "":
            start, end = max(size - int(last), 0), size - 1
        else:
            start = int(first)
            end = min(int(last), size - 1) if last else size - 1
    except ValueError:
        return None
    if start >= size or start > end:
        return "invalid"
    return start, end


class RunwayEmulator:
    """A Runway API emulator serving real HTTP on a free loopback port (see the module docs)."""

    def __init__(self, config: EmulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self._state = EmulatorState(config or EmulatorConfig())
        self._host = host
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> RunwayEmulator:
        if self._server is not None:
            return self
        server = _Server((self._host, self._port), self._state)
        host, port = str(server.server_address[0]), int(server.server_address[1])
        display_host = f"[{host}]" if ":" in host else host
        server.base_url = f"http://{display_host}:{port}"
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="runway-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        with server.connections_lock:
            connections = list(server.open_connections)
        for connection in connections:
            # Idle keep-alive connections would otherwise hold their handler threads.
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> RunwayEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # --- the agreed interface ------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the emulator is not running: call start() or use it as a context manager")
        return self._server.base_url

    @property
    def api_key(self) -> str:
        return self._state.config.api_key

    @property
    def config(self) -> EmulatorConfig:
        return self._state.config

    def counters(self) -> dict[str, int]:
        return self._state.counter_snapshot()

    def reset_counters(self) -> None:
        self._state.reset_counters()

    def update(self, **fields: Any) -> EmulatorConfig:
        """Change any EmulatorConfig field while running; raises pydantic.ValidationError."""
        return self._state.update_config(fields)

    def tasks(self) -> list[dict[str, Any]]:
        """Every task with its plan (status, when it runs and finishes, failure code)."""
        return self._state.all_task_reports()
