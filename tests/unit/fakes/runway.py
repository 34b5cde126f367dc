"""`ScriptedRunway`: a fake Runway API whose answers a test scripts, call by call.

Creates answer from `create_answers` in order (then accept): a string accepts with that task id
(`accept()` makes one), an exception is raised (`rate_limited()`, `refuses()`, `drops()` make the
ones the real client raises for a 429, a 400, and a create whose answer was lost). Task reads
answer from `tasks[task_id]`, a list used in order whose last entry repeats; deletes from
`delete_answers` (then confirm). Every call is recorded.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Mapping
from typing import Any

from runway_bridge.errors import (
    RunwayError,
    RunwayRateLimitedError,
    RunwayServerError,
    RunwaySubmissionUnknownError,
    RunwayTimeoutError,
    RunwayValidationError,
)
from runway_bridge.models.operations import Operation
from runway_bridge.models.runway import RunwayModel, Task, UploadResponse, parse_task

TaskAnswer = Task | RunwayError


def rate_limited(retry_after_s: float | None = 30.0) -> RunwayRateLimitedError:
    return RunwayRateLimitedError("Runway answered 429", status_code=429, retry_after_s=retry_after_s)


def refuses(message: str = "promptText: too long") -> RunwayValidationError:
    return RunwayValidationError(message)


def drops() -> RunwaySubmissionUnknownError:
    return RunwaySubmissionUnknownError(
        "the connection broke after the create was sent", cause=RunwayTimeoutError("read timed out")
    )


def unavailable() -> RunwayServerError:
    return RunwayServerError("Runway answered 503", status_code=503)


def task(task_id: str, status: str, **fields: Any) -> Task:
    return parse_task({"id": task_id, "status": status, "createdAt": "2026-11-23T12:00:00Z", **fields})


class ScriptedRunway:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.create_answers: list[str | RunwayError] = []
        self.tasks: dict[str, list[TaskAnswer]] = {}
        self.delete_answers: list[RunwayError | None] = []
        self.creates: list[tuple[str, dict[str, Any]]] = []
        self.gets: list[str] = []
        self.deletes: list[str] = []
        self.uploads: list[str] = []
        self.uploaded: list[tuple[str, str, int]] = []
        self.upload_budgets: list[float] = []
        self.upload_answer: UploadResponse | RunwayError | None = None
        # Called during each create, before it answers (what happens meanwhile elsewhere).
        self.on_create: Callable[[], None] | None = None

    def accept(self) -> str:
        """Script the next create to be accepted; the task id it will answer."""
        task_id = f"task-{next(self._ids):04d}"
        self.create_answers.append(task_id)
        return task_id

    # --- RunwayApi ---------------------------------------------------------------------------

    def create_task(
        self,
        operation: Operation,
        body: RunwayModel | Mapping[str, Any],
        *,
        budget_s: float,
        retry_rate_limited: bool = True,
    ) -> str:
        plain = (
            body.model_dump(by_alias=True, exclude_none=True) if hasattr(body, "model_dump") else dict(body)
        )
        with self._lock:
            self.creates.append((operation, plain))
            answer = self.create_answers.pop(0) if self.create_answers else f"task-{next(self._ids):04d}"
        if self.on_create is not None:
            self.on_create()
        if isinstance(answer, RunwayError):
            raise answer
        self.tasks.setdefault(answer, [task(answer, "PENDING")])
        return answer

    def get_task(self, task_id: str, *, budget_s: float) -> Task:
        with self._lock:
            self.gets.append(task_id)
            script = self.tasks[task_id]
            answer = script.pop(0) if len(script) > 1 else script[0]
        if isinstance(answer, RunwayError):
            raise answer
        return answer

    def delete_task(self, task_id: str, *, budget_s: float) -> None:
        with self._lock:
            self.deletes.append(task_id)
            answer = self.delete_answers.pop(0) if self.delete_answers else None
        if answer is not None:
            raise answer

    def upload(self, filename: str, content: bytes, content_type: str, *, budget_s: float) -> str:
        """Both upload steps: records (filename, content type, size) in `uploaded`."""
        upload = self.create_upload(filename, budget_s=budget_s)
        self.uploaded.append((filename, content_type, len(content)))
        self.upload_budgets.append(budget_s)
        return upload.runway_uri

    def create_upload(self, filename: str, *, budget_s: float) -> UploadResponse:
        self.uploads.append(filename)
        if isinstance(self.upload_answer, RunwayError):
            raise self.upload_answer
        return self.upload_answer or UploadResponse(
            upload_url="https://uploads.runway.test/put",
            runway_uri=f"runway://uploads/{filename}",
        )
