"""`runway-bridge generate | tasks | webhooks`: use a bridge from the shell.

    runway-bridge generate text_to_video --prompt "a red fox in snow" --wait
    runway-bridge tasks get <id> | tasks list [--status SUCCEEDED] [--cursor C | --all]
    runway-bridge tasks wait <id> | tasks download <id>    (resume an interrupted --wait)
    runway-bridge tasks cancel <id> (unfinished only) | tasks delete <id> [--yes] (finished, outputs too)
    runway-bridge webhooks listen [--port 8765]
    runway-bridge usage

The bridge URL and key come from `--url`/`--key`, else `RUNWAY_BRIDGE_URL`/`RUNWAY_BRIDGE_API_KEY`,
else the running `runway-bridge dev` (its profile, see `runway_bridge_dev.profile`). Every error is a
one-line message on stderr and a non-zero exit code: 1 the bridge refused or the task failed, 2 usage,
3 the bridge could not be reached. `--json` prints machine-readable results on stdout.
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from runway_bridge.models.operations import OPERATIONS, REGISTRY, OperationSpec
from runway_bridge_dev.profile import read_dev_profile, read_listener, remove_listener, write_listener

URL_VARIABLE = "RUNWAY_BRIDGE_URL"
KEY_VARIABLE = "RUNWAY_BRIDGE_API_KEY"
SECRET_VARIABLE = "RUNWAY_BRIDGE_WEBHOOK_SECRET"
FINISHED = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})
DEFAULT_LISTEN_PORT = 8765
# The create body's name for the caller's own reference (the bridge's models/api.py).
BRIDGE_REFERENCE_FIELD = "bridgeReference"

EXTENSIONS = {"video/mp4": ".mp4", "audio/wav": ".wav", "audio/x-wav": ".wav", "image/png": ".png"}


class CliError(Exception):
    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


@dataclass(frozen=True)
class Target:
    url: str
    key: str
    is_dev: bool


def register(subparsers: Any) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url", default=None, help=f"bridge API URL (default: ${URL_VARIABLE}, else `make dev`'s)"
    )
    common.add_argument(
        "--key", default=None, help=f"bridge API key (default: ${KEY_VARIABLE}, else `make dev`'s)"
    )
    common.add_argument("--json", action="store_true", help="machine-readable output on stdout")

    generate = subparsers.add_parser(
        "generate",
        parents=[common],
        help="submit a generation, optionally wait for it and download the output",
        description="Local files given to --image/--video/--audio go through Runway's upload flow.",
    )
    generate.add_argument("operation", choices=sorted(OPERATIONS), help="Runway operation")
    generate.add_argument("--prompt", help="promptText")
    generate.add_argument("--image", help="image: a local file, an https URL or a runway:// URI")
    generate.add_argument("--video", help="video: a local file, an https URL or a runway:// URI")
    generate.add_argument("--audio", help="audio: a local file, an https URL or a runway:// URI")
    generate.add_argument("--model", help="model (default per operation, e.g. gen4.5 for text_to_video)")
    generate.add_argument("--duration", type=int, help="seconds of output")
    generate.add_argument("--ratio", help="e.g. 1280:720")
    generate.add_argument(
        "--callback", help="callback URL (default: a running `webhooks listen` for `make dev`)"
    )
    generate.add_argument(
        "--reference",
        help="your own reference, searchable with tasks list (character_performance's reference "
        "performance is --video)",
    )
    generate.add_argument("--wait", action="store_true", help="show progress until done, then download")
    generate.add_argument("--output", "-o", type=Path, help="where to save the output (default ./<id>.<ext>)")
    generate.add_argument("--timeout", type=float, default=900.0, help="seconds --wait waits (default 900)")
    generate.set_defaults(func=run_generate)

    tasks = subparsers.add_parser("tasks", help="get, list, wait for, download, cancel or delete tasks")
    actions = tasks.add_subparsers(dest="tasks_action", metavar="ACTION", required=True)
    get = actions.add_parser("get", parents=[common], help="one task")
    get.add_argument("task_id")
    get.set_defaults(func=run_tasks_get)
    listing = actions.add_parser("list", parents=[common], help="your tasks, newest first")
    listing.add_argument("--status", help="only this bridge status (QUEUED, RUNNING, SUCCEEDED, ...)")
    listing.add_argument("--reference", help="only tasks with this reference")
    listing.add_argument("--limit", type=int, default=20, help="tasks per page (default 20, at most 100)")
    pages = listing.add_mutually_exclusive_group()
    pages.add_argument("--cursor", help="the page after this one: a nextCursor from a previous list")
    pages.add_argument("--all", action="store_true", help="every page, following nextCursor")
    listing.set_defaults(func=run_tasks_list)
    wait = actions.add_parser(
        "wait",
        parents=[common],
        help="show progress until a task is done, then download its outputs (resumes generate --wait)",
    )
    wait.add_argument("task_id")
    wait.add_argument("--output", "-o", type=Path, help="where to save the output (default ./<id>.<ext>)")
    wait.add_argument("--no-download", action="store_true", help="only wait; do not download the outputs")
    wait.add_argument("--timeout", type=float, default=900.0, help="seconds to wait (default 900)")
    wait.set_defaults(func=run_tasks_wait)
    download = actions.add_parser("download", parents=[common], help="download a succeeded task's outputs")
    download.add_argument("task_id")
    download.add_argument("--output", "-o", type=Path, help="where to save the output (default ./<id>.<ext>)")
    download.set_defaults(func=run_tasks_download)
    cancel = actions.add_parser(
        "cancel", parents=[common], help="cancel an unfinished task (refuses a finished one)"
    )
    cancel.add_argument("task_id")
    cancel.set_defaults(func=run_tasks_cancel)
    delete = actions.add_parser(
        "delete", parents=[common], help="delete a finished task and its outputs (asks first)"
    )
    delete.add_argument("task_id")
    delete.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    delete.set_defaults(func=run_tasks_delete)

    usage = subparsers.add_parser(
        "usage", parents=[common], help="your tenant's counters against its limits (today, UTC)"
    )
    usage.set_defaults(func=run_usage)

    webhooks = subparsers.add_parser("webhooks", help="receive and verify webhooks")
    webhook_actions = webhooks.add_subparsers(dest="webhooks_action", metavar="ACTION", required=True)
    listen = webhook_actions.add_parser(
        "listen",
        parents=[common],
        help="a local receiver that verifies each webhook's signature and prints the event",
    )
    listen.add_argument(
        "--port",
        type=int,
        default=DEFAULT_LISTEN_PORT,
        help=f"port on 127.0.0.1 (default {DEFAULT_LISTEN_PORT}; 0: any)",
    )
    listen.add_argument(
        "--secret",
        default=None,
        help=f"whsec_ secret (default: ${SECRET_VARIABLE}, else asked from the bridge)",
    )
    listen.set_defaults(func=run_listen)


# --- plumbing ------------------------------------------------------------------------------------------


def resolve_target(args: argparse.Namespace) -> Target:
    url = args.url or os.environ.get(URL_VARIABLE)
    key = args.key or os.environ.get(KEY_VARIABLE)
    profile = read_dev_profile()
    is_dev = False
    if not url and profile is not None:
        url, is_dev = profile.api_url, True
    if not key and profile is not None and url == profile.api_url:
        key, is_dev = profile.api_key, True
    if not url:
        raise CliError(
            f"no bridge to talk to: start one with `make dev`, or pass --url (or set {URL_VARIABLE})", 2
        )
    if not key:
        raise CliError(
            f"no API key: pass --key or set {KEY_VARIABLE} (create one: runway-bridge keys create)", 2
        )
    return Target(url.rstrip("/"), key, is_dev)


def client(target: Target) -> httpx.Client:
    return httpx.Client(
        base_url=target.url,
        headers={"Authorization": f"Bearer {target.key}"},
        timeout=httpx.Timeout(35.0, connect=5.0),
        trust_env=False,
    )


def file_client() -> httpx.Client:
    """For uploads to and downloads from the (presigned) URLs the bridge hands out."""
    return httpx.Client(timeout=120, trust_env=False)


def call(http: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    try:
        response = http.request(method, path, **kwargs)
    except httpx.TransportError as exc:
        raise CliError(
            f"cannot reach the bridge at {http.base_url} ({exc}); is `make dev` running?", 3
        ) from exc
    return call_ok(response, method, path)


def call_ok(response: httpx.Response, method: str, path: str) -> httpx.Response:
    if response.status_code >= 400:
        raise CliError(f"{method} {path} answered {response.status_code}: {error_detail(response)}")
    return response


def error_detail(response: httpx.Response) -> str:
    """The reason in an error answer, one line: the bridge's (Runway's) `{"error", "code"}`, API
    Gateway's own `{"message"}` (e.g. its 401 for an unknown key), else the start of the text."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        message = body.get("error") or body.get("message") or body.get("detail")
        if isinstance(message, str) and message:
            code = body.get("code")
            return one_line(f"{message} ({code})" if code else message)
    return one_line(response.text[:200]) or response.reason_phrase or "no details"


def one_line(text: str) -> str:
    return " ".join(text.split())


def guarded(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except CliError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return exc.exit_code
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        except httpx.HTTPError as exc:  # anything the calls above did not turn into a CliError
            print(f"error: {one_line(str(exc)) or type(exc).__name__}", file=sys.stderr)
            return 3
        except BrokenPipeError:
            # stdout closed early (e.g. `| head`): nothing left to say to it.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0

    return run


def emit(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, indent=None if args.json else 2) if args.json else text, flush=True)


# --- generate ------------------------------------------------------------------------------------------


REMOTE_PREFIXES = ("https://", "http://", "runway://", "data:")
SNIFF_BYTES = 64


def sniff(head: bytes) -> str | None:
    """The media type the first bytes of a file announce (magic numbers), None when unknown."""
    riff_kind = head[8:12] if head.startswith(b"RIFF") else b""
    signatures: list[tuple[bool, str]] = [
        (head.startswith(b"\x89PNG\r\n\x1a\n"), "image/png"),
        (head.startswith(b"\xff\xd8\xff"), "image/jpeg"),
        (head.startswith((b"GIF87a", b"GIF89a")), "image/gif"),
        (riff_kind == b"WEBP", "image/webp"),
        (riff_kind == b"WAVE", "audio/wav"),
        (head[4:8] == b"ftyp" and head[8:11] == b"M4A", "audio/mp4"),
        (head[4:8] == b"ftyp" and head[8:12] == b"qt  ", "video/quicktime"),
        (head[4:8] == b"ftyp", "video/mp4"),
        (head.startswith(b"\x1a\x45\xdf\xa3"), "video/webm"),
        (head.startswith(b"ID3") or head[:2] in {b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"}, "audio/mpeg"),
        (head[:2] in {b"\xff\xf1", b"\xff\xf9"}, "audio/aac"),
        (head.startswith(b"OggS"), "audio/ogg"),
        (head.startswith(b"fLaC"), "audio/flac"),
    ]
    return next((content_type for matched, content_type in signatures if matched), None)


def local_media(value: str, kind: str) -> tuple[Path, str] | None:
    """A local file given to --image/--video/--audio, checked before anything is uploaded: it
    exists and its bytes are a `kind` (image, video, audio); its content type. None for a URL/URI."""
    if value.startswith(REMOTE_PREFIXES):
        return None
    path = Path(value)
    if not path.is_file():
        raise CliError(f"{value}: no such file (give a local file, an https URL or a runway:// URI)", 2)
    try:
        with path.open("rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError as exc:
        raise CliError(f"{value}: cannot read it ({exc.strerror})", 2) from exc
    content_type = sniff(head)
    if content_type is None or not content_type.startswith(f"{kind}/"):
        found = f"a {content_type} file" if content_type else "not a known image, video or audio format"
        article = "an" if kind[0] in "aeiou" else "a"
        raise CliError(f"--{kind} {value}: {found}, not {article} {kind}; nothing was uploaded", 2)
    return path, content_type


def media_uri(http: httpx.Client, value: str, local: tuple[Path, str] | None) -> str:
    """A URL/URI as it is; a local file uploaded through Runway's upload flow (`runway://` URI)."""
    if local is None:
        return value
    path, content_type = local
    upload = call(http, "POST", "/v1/uploads", json={"filename": path.name, "type": "ephemeral"}).json()
    try:
        with path.open("rb") as handle, file_client() as files:
            answer = files.post(
                upload["uploadUrl"],
                data=upload.get("fields") or {},
                files={"file": (path.name, handle, content_type)},
            )
    except httpx.TransportError as exc:
        raise CliError(f"uploading {path.name} failed: {exc}", 3) from exc
    if answer.status_code >= 300:
        raise CliError(f"uploading {path.name} failed: {answer.status_code} {answer.text[:200]}")
    return str(upload["runwayUri"])


def build_body(operation: str, args: argparse.Namespace, http: httpx.Client) -> dict[str, Any]:
    """The body for `operation` from the command's arguments, shaped by the operation's registry
    entry (the bridge validates; its 400 says what is wrong)."""
    given = {kind: getattr(args, kind) for kind in ("image", "video", "audio") if getattr(args, kind)}
    checked = {kind: local_media(value, kind) for kind, value in given.items()}  # all, before any upload
    media: dict[str, str | None] = {
        kind: media_uri(http, value, checked[kind]) for kind, value in given.items()
    }
    return body_from_arguments(
        REGISTRY[operation],
        media,
        model=args.model,
        prompt=args.prompt,
        ratio=args.ratio,
        duration=args.duration,
    )


def body_from_arguments(
    spec: OperationSpec,
    media: dict[str, str | None],
    *,
    model: str | None,
    prompt: str | None,
    ratio: str | None,
    duration: int | None,
) -> dict[str, Any]:
    cli = spec.cli
    body: dict[str, Any] = {"model": model or cli.model}
    if prompt:
        body["promptText"] = prompt
    if cli.ratio:  # operations without a default ratio take none
        body["ratio"] = ratio or cli.ratio
    if duration or cli.duration:
        body["duration"] = duration or cli.duration
    for entry in spec.inputs:
        source = next((source for source in entry.cli_sources if media.get(source)), None)
        if source is not None:
            uri = media[source]
            body[entry.field] = {"type": source, "uri": uri} if entry.reference else uri
    return body


class Progress:
    """A one-line bar on a terminal; one line per change otherwise (logs, CI)."""

    def __init__(self, stream: Any, *, enabled: bool) -> None:
        self._stream = stream
        self._enabled = enabled
        self._tty = stream.isatty()
        self._last_step: tuple[str, int] | None = None
        self._started = time.monotonic()

    def show(self, status: str, progress: float | None) -> None:
        if not self._enabled:
            return
        elapsed = time.monotonic() - self._started
        fraction = 1.0 if status == "SUCCEEDED" else (progress or 0.0)
        line = f"[{'#' * int(fraction * 30):<30}] {fraction * 100:5.1f}% {status:<9} {elapsed:5.0f}s"
        if self._tty:
            self._stream.write("\r" + line)
            self._stream.flush()
            return
        step = (status, int(fraction * 10))  # off a terminal: a line per status or 10% step
        if step != self._last_step:
            self._stream.write(line + "\n")
            self._stream.flush()
            self._last_step = step

    def done(self) -> None:
        if self._enabled and self._tty:
            self._stream.write("\n")
            self._stream.flush()


def wait_for(http: httpx.Client, task_id: str, *, timeout_s: float, progress: Progress) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        view: dict[str, Any] = call(http, "GET", f"/v1/tasks/{task_id}").json()
        progress.show(shown_status(view), view.get("progress"))
        if view["status"] in FINISHED:
            progress.done()
            return view
        if time.monotonic() > deadline:
            progress.done()
            raise CliError(
                f"task {task_id} not finished after {timeout_s:g} s (still {shown_status(view)}); "
                f"`runway-bridge tasks wait {task_id}` goes on waiting"
            )
        time.sleep(1.0)


def download_outputs(view: dict[str, Any], output: Path | None) -> list[str]:
    saved = []
    urls = view.get("output") or []
    described = view.get("bridge", {}).get("outputs", [])
    for index, url in enumerate(urls):
        content_type = described[index].get("contentType", "") if index < len(described) else ""
        extension = EXTENSIONS.get(content_type) or mimetypes.guess_extension(content_type) or ""
        if output is not None:
            path = output if len(urls) == 1 else output.with_name(f"{output.stem}-{index}{output.suffix}")
        else:
            path = Path(f"{view['id']}{'' if len(urls) == 1 else f'-{index}'}{extension}")
        try:
            with file_client() as files, files.stream("GET", url) as response:
                if response.status_code != 200:
                    raise CliError(f"downloading output {index} failed: {response.status_code}")
                path.parent.mkdir(parents=True, exist_ok=True)
                with path.open("wb") as handle:
                    for chunk in response.iter_bytes():
                        handle.write(chunk)
        except httpx.TransportError as exc:
            raise CliError(f"downloading output {index} failed: {exc}", 3) from exc
        saved.append(str(path))
    return saved


@guarded
def run_generate(args: argparse.Namespace) -> int:
    target = resolve_target(args)
    with client(target) as http:
        body = build_body(args.operation, args, http)
        callback = args.callback
        listener = read_listener() if callback is None and target.is_dev else None
        if listener is not None:
            callback = listener.url
            if not args.json:
                print(f"callback: {callback} (runway-bridge webhooks listen)", file=sys.stderr)
        if callback:
            body["callbackUrl"] = callback
        if args.reference:
            # `bridgeReference`, not `reference`: that is a Runway field in some bodies
            # (character_performance's reference performance), and the bridge takes either.
            body[BRIDGE_REFERENCE_FIELD] = args.reference
        # A fresh key per invocation: if this request is retried, it cannot create a second job.
        created = call(
            http, "POST", f"/v1/{args.operation}", json=body, headers={"Idempotency-Key": str(uuid.uuid4())}
        ).json()
        task_id = created["id"]
        if not args.wait:
            emit(args, {"id": task_id}, task_id)
            return 0
        return wait_and_download(args, http, task_id, announce=f"task {task_id} submitted; waiting")


def wait_and_download(args: argparse.Namespace, http: httpx.Client, task_id: str, announce: str = "") -> int:
    """`--wait`'s end (generate and `tasks wait`): progress until finished, then the outputs saved.
    Ctrl-C stops waiting, not the task, and says how to resume (from the announcement on)."""
    try:
        if announce and not args.json:
            print(f"{announce} (Ctrl-C stops waiting, not the task)", file=sys.stderr, flush=True)
        view = wait_for(
            http, task_id, timeout_s=args.timeout, progress=Progress(sys.stderr, enabled=not args.json)
        )
    except KeyboardInterrupt:
        raise CliError(
            f"stopped waiting; task {task_id} goes on. Resume: runway-bridge tasks wait {task_id}", 130
        ) from None
    if view["status"] != "SUCCEEDED":
        emit(
            args, {"id": task_id, "status": view["status"], "task": view}, f"task {task_id}: {view['status']}"
        )
        reason = view.get("failure") or view["status"].lower()
        raise CliError(f"task {task_id} {view['status']}: {reason} ({view.get('failureCode')})")
    if getattr(args, "no_download", False):
        emit(args, {"id": task_id, "status": "SUCCEEDED", "files": [], "task": view}, summary(view))
        return 0
    return save_outputs(args, view)


def save_outputs(args: argparse.Namespace, view: dict[str, Any]) -> int:
    saved = download_outputs(view, args.output)
    emit(
        args,
        {"id": view["id"], "status": "SUCCEEDED", "files": saved, "task": view},
        "\n".join(f"saved {path}" for path in saved),
    )
    return 0


# --- tasks -------------------------------------------------------------------------------------------------


def shown_status(view: dict[str, Any]) -> str:
    """What a person should read: `status` is Runway's enum (the SDK branches on it), the bridge's
    own `bridge.status` says more. QUEUED (held by the bridge) and COPYING (Runway is done, the
    outputs are being copied) show as such, and a task Runway already runs shows RUNNING even
    before the bridge's record caught up."""
    bridge = view.get("bridge") or {}
    status = str(view["status"])
    if status in FINISHED:
        return status
    if bridge.get("status") in {"QUEUED", "COPYING"}:
        return str(bridge["status"])
    if status == "PENDING" and bridge.get("runwayStatus") == "RUNNING":
        return "RUNNING"
    return status


def summary(view: dict[str, Any]) -> str:
    bridge = view.get("bridge", {})
    progress = f" {view['progress'] * 100:.0f}%" if view.get("progress") is not None else ""
    failure = f" {view.get('failureCode')}: {view.get('failure')}" if view["status"] == "FAILED" else ""
    what = f"{bridge.get('operation', '')} {bridge.get('model', '')}"
    return f"{view['id']}  {shown_status(view)}{progress}  {what}{failure}"


@guarded
def run_tasks_get(args: argparse.Namespace) -> int:
    with client(resolve_target(args)) as http:
        view = call(http, "GET", f"/v1/tasks/{args.task_id}").json()
    text = summary(view) + "".join(f"\n  output: {url}" for url in view.get("output") or [])
    emit(args, view, text)
    return 0


@guarded
def run_tasks_list(args: argparse.Namespace) -> int:
    params = {key: value for key, value in (("status", args.status), ("reference", args.reference)) if value}
    params["limit"] = str(args.limit)
    if args.cursor:
        params["cursor"] = args.cursor
    with client(resolve_target(args)) as http:
        page = call(http, "GET", "/v1/tasks", params=params).json()
        views: list[dict[str, Any]] = list(page["data"])
        seen: set[str] = set()
        while args.all and page.get("nextCursor"):
            if page["nextCursor"] in seen:  # a cursor that repeats would loop for ever
                raise CliError("the bridge answered the same nextCursor twice; stopped listing")
            seen.add(page["nextCursor"])
            page = call(http, "GET", "/v1/tasks", params={**params, "cursor": page["nextCursor"]}).json()
            views.extend(page["data"])
    result = {"data": views, **({"nextCursor": page["nextCursor"]} if page.get("nextCursor") else {})}
    emit(args, result, "\n".join(summary(view) for view in views) or "no tasks")
    if page.get("nextCursor") and not args.json:
        print(f"more: runway-bridge tasks list --cursor {page['nextCursor']} (or --all)", file=sys.stderr)
    return 0


@guarded
def run_tasks_wait(args: argparse.Namespace) -> int:
    with client(resolve_target(args)) as http:
        return wait_and_download(args, http, args.task_id)


@guarded
def run_tasks_download(args: argparse.Namespace) -> int:
    with client(resolve_target(args)) as http:
        view = call(http, "GET", f"/v1/tasks/{args.task_id}").json()
    if view["status"] != "SUCCEEDED":
        status = shown_status(view)
        hint = (
            f"wait for it: runway-bridge tasks wait {args.task_id}"
            if status not in FINISHED
            else "it has no outputs"
        )
        raise CliError(f"task {args.task_id} is {status}: {hint}")
    return save_outputs(args, view)


@guarded
def run_usage(args: argparse.Namespace) -> int:
    with client(resolve_target(args)) as http:
        view = call(http, "GET", "/v1/usage").json()
    emit(args, view, usage_text(view))
    return 0


def usage_text(view: dict[str, Any]) -> str:
    limits, today = view["limits"], view["today"]

    def against(used: float, limit: float | None) -> str:
        return f"{used:g} / {'unlimited' if limit is None else f'{limit:g}'}"

    return "\n".join(
        [
            f"tenant {view['tenantId']}, {view['day']} (UTC; resets {view['resetsAt']})",
            f"  in flight       {against(view['inFlight'], limits['maxInFlight'])} ({view['queued']} queued)",
            f"  jobs today      {against(today['jobs'], limits['maxJobsPerDay'])}",
            f"  output seconds  {against(today['outputSeconds'], limits['maxOutputSecondsPerDay'])}",
            f"  credits         {against(today['credits'], limits['maxCreditsPerDay'])}",
        ]
    )


def is_done(view: dict[str, Any]) -> bool:
    """Finished, or finished at Runway with its outputs being copied: nothing left to cancel."""
    return view["status"] in FINISHED or (view.get("bridge") or {}).get("status") == "COPYING"


@guarded
def run_tasks_cancel(args: argparse.Namespace) -> int:
    """The bridge's DELETE cancels an unfinished task but deletes a finished one (as Runway's does):
    a cancel looks first and refuses a finished task, so its outputs are never lost by a cancel."""
    task_id = args.task_id
    with client(resolve_target(args)) as http:
        view = call(http, "GET", f"/v1/tasks/{task_id}").json()
        if is_done(view):
            raise CliError(
                f"task {task_id} is already {shown_status(view)}: nothing to cancel "
                f"(to delete it and its outputs: runway-bridge tasks delete {task_id})"
            )
        call(http, "DELETE", f"/v1/tasks/{task_id}")
        after = http.get(f"/v1/tasks/{task_id}")
    if after.status_code == 404:
        # It finished in the moment between the look and the DELETE, which then deleted it.
        raise CliError(f"task {task_id} finished just before the cancel arrived and was deleted")
    view = call_ok(after, "GET", f"/v1/tasks/{task_id}").json()
    status = shown_status(view)
    cancelled = view["status"] == "CANCELLED"
    text = (
        f"task {task_id} cancelled"
        if cancelled
        else f"task {task_id}: cancel requested ({status}; Runway confirms it shortly)"
    )
    emit(args, {"id": task_id, "cancelled": cancelled, "status": view["status"], "task": view}, text)
    return 0


@guarded
def run_tasks_delete(args: argparse.Namespace) -> int:
    task_id = args.task_id
    with client(resolve_target(args)) as http:
        view = call(http, "GET", f"/v1/tasks/{task_id}").json()
        if not is_done(view):
            raise CliError(
                f"task {task_id} is {shown_status(view)}, not finished: cancel it first "
                f"(runway-bridge tasks cancel {task_id})"
            )
        outputs = len((view.get("bridge") or {}).get("outputs") or view.get("output") or [])
        if not args.yes:
            confirm(f"Delete task {task_id} ({view['status']}) and its {outputs} output(s) for good?")
        call(http, "DELETE", f"/v1/tasks/{task_id}")
    emit(args, {"id": task_id, "deleted": True}, f"task {task_id} deleted with its {outputs} output(s)")
    return 0


def confirm(question: str) -> None:
    if not sys.stdin.isatty():
        raise CliError(f"{question} Not confirmed: pass --yes (no terminal to ask on)", 2)
    answer = input(f"{question} [y/N] ").strip().lower()
    if answer not in {"y", "yes"}:
        raise CliError("not deleted", 1)


# --- webhooks listen -------------------------------------------------------------------------------------


class Verifier:
    """Verifies with the tenant's secret; after a failed verification it asks the bridge for the
    secret again, once (a rotation). The bridge is found again for that, so a listener left running
    follows a restarted `make dev` (a new key, and without --data-dir a new tenant secret)."""

    def __init__(self, secret: str | None, fetch: Callable[[], str] | None) -> None:
        self._fetch = fetch
        self._secret = secret or (fetch() if fetch else None)
        if not self._secret:
            raise CliError(f"no webhook secret: pass --secret or set {SECRET_VARIABLE}", 2)

    def verify(self, body: bytes, headers: dict[str, str]) -> Any:
        from standardwebhooks import Webhook  # noqa: PLC0415
        from standardwebhooks.webhooks import WebhookVerificationError  # noqa: PLC0415

        secret = str(self._secret)
        try:
            return Webhook(secret).verify(body, headers)
        except WebhookVerificationError:
            if self._fetch is None:
                raise
            fresh = self._fetch()
            if fresh == secret:
                raise
            self._secret = fresh
            return Webhook(fresh).verify(body, headers)


def describe(payload: dict[str, Any]) -> str:
    data = payload.get("data", {})
    outputs = ", ".join(output.get("s3Uri", "") for output in data.get("outputs", []))
    parts = [f"verified {payload.get('type')}", f"id {payload.get('id')}", f"job {data.get('jobId')}"]
    if data.get("status"):
        parts.append(str(data["status"]))
    if data.get("failureCode"):
        parts.append(f"{data['failureCode']}: {data.get('failure')}")
    if outputs:
        parts.append(f"outputs {outputs}")
    return "  ".join(parts)


def make_verifier(args: argparse.Namespace) -> Verifier:
    secret = args.secret or os.environ.get(SECRET_VARIABLE)
    fetch: Callable[[], str] | None = None
    if not secret or args.url or read_dev_profile() is not None:
        try:
            resolve_target(args)
        except CliError:
            if not secret:
                raise
        else:

            def fetch() -> str:
                # Resolved again each time: a restarted `make dev` has a new profile (URL, key).
                with client(resolve_target(args)) as http:
                    return str(call(http, "GET", "/v1/webhooks/secret").json()["secret"])

    return Verifier(secret, fetch)


@guarded
def run_listen(args: argparse.Namespace) -> int:
    verifier = make_verifier(args)
    printer_lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            headers = {key.lower(): value for key, value in self.headers.items()}
            try:
                payload = verifier.verify(body, headers)
            except Exception as exc:  # noqa: BLE001  (any failure: refuse and say why)
                self.send_response(401)
                self.end_headers()
                with printer_lock:
                    record = {"verified": False, "webhookId": headers.get("webhook-id"), "error": str(exc)}
                    emit(args, record, f"REJECTED webhook {headers.get('webhook-id')}: {exc}")
                return
            self.send_response(204)
            self.end_headers()
            with printer_lock:
                record = {"verified": True, "webhookId": headers.get("webhook-id"), "event": payload}
                emit(args, record, describe(payload))

        def log_message(self, format: str, *args: Any) -> None:
            pass

    try:
        server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    except OSError as exc:
        raise CliError(f"cannot listen on 127.0.0.1:{args.port}: {exc} (try --port 0)", 1) from exc
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    write_listener(url)
    message = f"listening on {url}; `runway-bridge generate ...` against `make dev` sends its webhooks here"
    emit(args, {"listening": url}, message)
    stop = threading.Event()
    import signal  # noqa: PLC0415

    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.shutdown()
        server.server_close()
        remove_listener()
    return 0
