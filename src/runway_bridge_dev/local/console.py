"""What a quiet `runway-bridge dev` prints: one line per job state change, read from the jobs
table's stream (the same stream the functions read), and no function log lines, metric blobs or
Powertools warnings unless `--verbose`. A function's own WARNING/ERROR log lines still show, as one
short line each.
"""

from __future__ import annotations

import io
import json
import sys
import threading
import time
import warnings
from typing import Any, TextIO

JOB_KEY_PREFIX = "JOB#"
JOB_SORT_KEY = "JOB"
SHOWN_LEVELS = frozenset({"WARNING", "ERROR", "CRITICAL"})


def _attribute(image: dict[str, Any], name: str) -> str | None:
    value = image.get(name)
    if not isinstance(value, dict):
        return None
    text = value.get("S")
    return text if isinstance(text, str) else None


def state_change_line(record: dict[str, Any]) -> str | None:
    """`HH:MM:SS job <id> OLD -> NEW (operation, tenant)` for a job record whose status changed."""
    change = record.get("dynamodb") or {}
    new = change.get("NewImage") or {}
    old = change.get("OldImage") or {}
    image = new or old
    if _attribute(image, "sk") != JOB_SORT_KEY or not (_attribute(image, "pk") or "").startswith(
        JOB_KEY_PREFIX
    ):
        return None
    before, after = _attribute(old, "status"), _attribute(new, "status")
    if record.get("eventName") == "REMOVE":
        after = "DELETED"
    if before == after or after is None:
        return None
    job_id = (_attribute(image, "pk") or "").removeprefix(JOB_KEY_PREFIX)
    details = ", ".join(x for x in (_attribute(image, "operation"), _attribute(image, "tenantId")) if x)
    moved = f"{before} -> {after}" if before else after
    return f"{time.strftime('%H:%M:%S')} job {job_id} {moved}" + (f" ({details})" if details else "")


class JobConsole:
    """Stands in for a function behind a stream poller: prints the state changes it is given."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def invoke(self, name_or_arn: str, event: dict[str, Any], *, timeout_s: float | None = None) -> Any:
        lines = [line for line in map(state_change_line, event.get("Records", [])) if line]
        if lines:
            with self._lock:
                self._stream.write("\n".join(lines) + "\n")
                self._stream.flush()
        return None


class QuietOutput(io.TextIOBase):
    """Stands in for stdout while the stack runs: drops the functions' JSON log lines and metric
    blobs (one JSON object a line), shortens their warnings and errors to one line, passes the rest."""

    def __init__(self, console: TextIO) -> None:
        self._console = console
        self._pending = ""
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            self._pending += text
            *lines, self._pending = self._pending.split("\n")
            shown = [kept for kept in map(self._keep, lines) if kept is not None]
            if shown:
                self._console.write("\n".join(shown) + "\n")
        return len(text)

    def flush(self) -> None:
        self._console.flush()

    def isatty(self) -> bool:
        return self._console.isatty()

    def fileno(self) -> int:
        return self._console.fileno()

    @staticmethod
    def _keep(line: str) -> str | None:
        if not line.startswith("{"):
            return line
        try:
            record = json.loads(line)
        except ValueError:
            return line
        if not isinstance(record, dict) or record.get("level") not in SHOWN_LEVELS:
            return None  # an INFO/DEBUG log line or an EMF metrics blob
        where = record.get("function_name") or record.get("location") or ""
        return f"{time.strftime('%H:%M:%S')} {record['level']} {record.get('message')} ({where})"


def quiet_console() -> TextIO:
    """Make the process quiet; the stream our own lines go to (the real stdout)."""
    console = sys.stdout
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    sys.stdout = QuietOutput(console)  # type: ignore[assignment]
    return console
