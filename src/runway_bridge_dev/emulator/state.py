"""The emulator's world: tasks, uploads, counters and the per-model queue. No HTTP here.

Every public method takes the one lock, so request threads see a consistent world.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import json
import random
import secrets
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from runway_bridge.models.operations import REGISTRY
from runway_bridge_dev.emulator.config import EmulatorConfig
from runway_bridge_dev.emulator.lifecycle import (
    EmulatorClock,
    TaskPlan,
    estimated_credits,
    failure_message,
    make_plan,
)

UPLOAD_LIFETIME_S = 24 * 3600.0
TASKS_CREATED = "tasks_created"


@dataclass
class EmulatedTask:
    id: str
    operation: str
    model: str
    created_at: float
    plan: TaskPlan
    credits: int
    # Decided by the per-model queue; may move while the task waits (a slot frees early).
    run_start: float = 0.0
    cancelled_at: float | None = None
    deleted: bool = False
    prompt_text: str | None = None
    # GET /v1/tasks/{id} answers served for this task, and the wall-clock moment of the first one
    # that showed it finished (what a client polling it learnt, and when).
    reads: int = 0
    first_final_read_wall: float | None = None
    # Input URLs fetched at create (with `fetch_inputs`), as `FetchedInput.to_json()` shows them.
    inputs_fetched: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ready_at(self) -> float:
        return self.created_at + self.plan.pending_s

    @property
    def runnable_at(self) -> float:
        """When the task leaves THROTTLED if a slot is free (equal to ready_at for most lives)."""
        return self.ready_at + self.plan.throttled_s

    @property
    def effective_run_s(self) -> float:
        return self.plan.run_s * self.plan.failure_at if self.plan.failure_code else self.plan.run_s

    @property
    def ends_at(self) -> float:
        """When the task stops holding a concurrency slot (finished, failed or cancelled)."""
        natural = self.run_start + self.effective_run_s
        return natural if self.cancelled_at is None else min(natural, max(self.cancelled_at, self.run_start))

    @property
    def output_kind(self) -> str:
        spec = REGISTRY.get(self.operation)
        return spec.output_kind if spec else "video"

    def status_at(self, now: float) -> str:
        if self.cancelled_at is not None and now >= self.cancelled_at:
            return "CANCELLED"
        if now < self.ready_at:
            return "PENDING"
        if now < self.run_start:
            return "THROTTLED"
        if now < self.run_start + self.effective_run_s:
            return "RUNNING"
        return "FAILED" if self.plan.failure_code else "SUCCEEDED"

    def progress_at(self, now: float) -> float | None:
        if self.plan.curve is None:
            return None
        fraction = (now - self.run_start) / self.plan.run_s if self.plan.run_s > 0 else 1.0
        return round(self.plan.curve.at(fraction), 4)


@dataclass
class Upload:
    id: str
    filename: str
    created_at: float
    signature: str
    completed: bool = False
    size: int = 0


@dataclass
class EmulatorState:
    config: EmulatorConfig
    lock: threading.RLock = field(default_factory=threading.RLock)
    tasks: dict[str, EmulatedTask] = field(default_factory=dict)
    uploads: dict[str, Upload] = field(default_factory=dict)
    counters: Counter[str] = field(default_factory=Counter)
    creates_per_day: Counter[str] = field(default_factory=Counter)
    signing_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    def __post_init__(self) -> None:
        self.clock = EmulatorClock(self.config.clock_speed)
        # Task plans and ids come from one seeded generator; faults from another, so injecting
        # faults does not change which tasks fail or how long they take.
        self._seed_generators(self.config.seed)

    def _seed_generators(self, seed: int | None) -> None:
        # Simulation randomness, not security: a seeded PRNG is what makes runs repeat.
        self.task_rng = random.Random(seed)  # noqa: S311
        self.fault_rng = random.Random(None if seed is None else seed + 1)  # noqa: S311

    # --- configuration and counters ---------------------------------------------------------

    def update_config(self, fields: dict[str, Any]) -> EmulatorConfig:
        with self.lock:
            merged = {**self.config.model_dump(), **fields}
            new_config = EmulatorConfig.model_validate(merged)
            old_config = self.config
            self.config = new_config
            if new_config.clock_speed != old_config.clock_speed:
                self.clock.set_speed(new_config.clock_speed)
            if new_config.seed != old_config.seed and "seed" in fields:
                self._seed_generators(new_config.seed)
            if new_config.concurrency_per_model != old_config.concurrency_per_model:
                now = self.clock.now()
                for model in {task.model for task in self.tasks.values()}:
                    self._schedule(model, now)
            return new_config

    def count(self, key: str) -> None:
        with self.lock:
            self.counters[key] += 1

    def counter_snapshot(self) -> dict[str, int]:
        with self.lock:
            snapshot = dict(self.counters)
            snapshot.setdefault(TASKS_CREATED, 0)
            return snapshot

    def reset_counters(self) -> None:
        with self.lock:
            self.counters.clear()

    # --- faults ------------------------------------------------------------------------------

    def injected_error_status(self, *, create: bool = False) -> int | None:
        """Status of a fault to answer this /v1 request (`create`: a task create) with, or None to
        serve it normally."""
        with self.lock:
            if self.config.fail_next:
                remaining = list(self.config.fail_next)
                status = remaining.pop(0)
                self.config = self.config.model_copy(update={"fail_next": remaining})
                return status
            if self.config.error_rate and self.fault_rng.random() < self.config.error_rate:
                return self.fault_rng.choice(self.config.error_statuses)
            rate = self.config.create_error_rate
            if create and rate and self.fault_rng.random() < rate:
                return self.fault_rng.choice(self.config.error_statuses)
            return None

    def should_drop_create(self) -> bool:
        """Whether to close the connection without answering this (already accepted) create."""
        with self.lock:
            if self.config.drop_next_creates > 0:
                self.config = self.config.model_copy(
                    update={"drop_next_creates": self.config.drop_next_creates - 1}
                )
                return True
            return (
                bool(self.config.drop_create_rate) and self.fault_rng.random() < self.config.drop_create_rate
            )

    # --- daily cap -----------------------------------------------------------------------------

    def seconds_until_cap_resets(self) -> float:
        now = self.clock.now()
        return 86_400.0 - now % 86_400.0

    # --- tasks ---------------------------------------------------------------------------------

    def create_task(
        self, operation: str, body: dict[str, Any], *, inputs_fetched: list[dict[str, Any]] | None = None
    ) -> EmulatedTask | None:
        """Create a task, or return None when the daily cap is reached."""
        with self.lock:
            now = self.clock.now()
            day = datetime.fromtimestamp(now, UTC).date().isoformat()
            if self.config.daily_cap is not None and self.creates_per_day[day] >= self.config.daily_cap:
                return None
            self.creates_per_day[day] += 1
            model = str(body.get("model"))
            duration = body.get("duration")
            clip_seconds = duration if isinstance(duration, int) and not isinstance(duration, bool) else None
            task_id = str(uuid.UUID(int=self.task_rng.getrandbits(128), version=4))
            prompt = body.get("promptText")
            plan_rng = self.task_rng
            if self.config.twin_lives:
                plan_rng = twin_rng(self.config.seed, operation, body)
            plan = make_plan(self.config, model, clip_seconds, prompt, plan_rng)
            task = EmulatedTask(
                id=task_id,
                operation=operation,
                model=model,
                created_at=now,
                plan=plan,
                credits=estimated_credits(model, clip_seconds),
                prompt_text=prompt if isinstance(prompt, str) else None,
                inputs_fetched=list(inputs_fetched or []),
            )
            self.tasks[task_id] = task
            self.counters[TASKS_CREATED] += 1
            self._schedule(model, now)
            return task

    def _schedule(self, model: str, now: float) -> None:
        """First come, first served per model: a task runs once it is ready and a slot is free.
        Tasks already running keep their slot; waiting ones are (re)placed, e.g. after a cancel."""
        same_model = [task for task in self.tasks.values() if task.model == model and not task.deleted]
        same_model.sort(key=lambda task: task.created_at)
        waiting = [
            task
            for task in same_model
            if task.cancelled_at is None and (task.run_start > now or task.run_start == 0.0)
        ]
        limit = self.config.concurrency_per_model
        if limit is None:
            for task in waiting:
                task.run_start = max(task.runnable_at, now)
            return
        waiting_ids = {task.id for task in waiting}
        slot_free_at = [
            task.ends_at
            for task in same_model
            if task.id not in waiting_ids and task.run_start <= now < task.ends_at
        ]
        heapq.heapify(slot_free_at)
        # More tasks running than slots (the limit was lowered): a slot opens only when enough end.
        while len(slot_free_at) > limit:
            heapq.heappop(slot_free_at)
        for _ in range(limit - len(slot_free_at)):
            heapq.heappush(slot_free_at, now)
        for task in waiting:
            free_at = heapq.heappop(slot_free_at)
            task.run_start = max(task.runnable_at, free_at, now)
            heapq.heappush(slot_free_at, task.run_start + task.effective_run_s)

    def get_task(self, task_id: str) -> EmulatedTask | None:
        with self.lock:
            task = self.tasks.get(task_id)
            return None if task is None or task.deleted else task

    def delete_task(self, task_id: str) -> bool:
        """Cancel an unfinished task, delete a finished one. False when there is no such task."""
        with self.lock:
            task = self.get_task(task_id)
            if task is None:
                return False
            now = self.clock.now()
            if task.status_at(now) in {"SUCCEEDED", "FAILED", "CANCELLED"}:
                task.deleted = True
            else:
                task.cancelled_at = now
            self._schedule(task.model, now)
            return True

    def task_json(self, task: EmulatedTask, output_url: Any) -> dict[str, Any]:
        """The task as Runway's API answers it. `output_url(task, index, expires)` signs a URL."""
        with self.lock:
            now = self.clock.now()
            status = task.status_at(now)
            body: dict[str, Any] = {
                "id": task.id,
                "status": status,
                "createdAt": _iso(task.created_at),
            }
            if status in {"PENDING", "THROTTLED", "RUNNING"}:
                body["estimatedCost"] = {"credits": task.credits}
            progress = task.progress_at(now)
            if status == "RUNNING" and progress is not None:
                body["progress"] = progress
            if status == "SUCCEEDED":
                body["cost"] = {"credits": task.credits}
                expires = now + self.config.output_url_ttl_s
                body["output"] = [output_url(task, 0, expires)]
            elif status in {"FAILED", "CANCELLED"}:
                body["cost"] = {"credits": 0}  # Runway refunds failed and cancelled tasks.
            if status == "FAILED":
                code = task.plan.failure_code or ""
                body["failure"] = failure_message(code)
                body["failureCode"] = code
            return body

    def note_read(self, task: EmulatedTask, status: str) -> None:
        """Count a GET of the task that answered `status`."""
        with self.lock:
            task.reads += 1
            if status in FINAL_STATUSES and task.first_final_read_wall is None:
                task.first_final_read_wall = time.time()

    def task_report(self, task: EmulatedTask) -> dict[str, Any]:
        """Admin view of a task's plan: lets tests and benchmarks know when it really finished."""
        with self.lock:
            now = self.clock.now()
            finished = task.ends_at
            return {
                "id": task.id,
                "operation": task.operation,
                "model": task.model,
                "status": task.status_at(now),
                "deleted": task.deleted,
                "createdAt": _iso(task.created_at),
                "runStartsAt": _iso(task.run_start),
                "finishesAt": _iso(finished),
                "finishesAtWallClock": _iso(self.clock.wall_time_of(finished)),
                "totalSeconds": round(task.plan.pending_s + task.plan.throttled_s + task.plan.run_s, 3),
                "failureCode": task.plan.failure_code,
                "life": task.plan.life,
                "pendingSeconds": round(task.plan.pending_s, 3),
                "throttledSeconds": round(task.plan.throttled_s, 3),
                "progressReported": task.plan.curve is not None,
                "gets": task.reads,
                "inputsFetched": list(task.inputs_fetched),
                "firstFinalReadAtWallClock": (
                    None if task.first_final_read_wall is None else _iso(task.first_final_read_wall)
                ),
                # Lets a test tell which request made the task (e.g. a marker per job: one task each).
                "promptText": task.prompt_text,
            }

    def all_task_reports(self) -> list[dict[str, Any]]:
        with self.lock:
            return [self.task_report(task) for task in self.tasks.values()]

    # --- signed URLs ---------------------------------------------------------------------------

    def sign(self, message: str) -> str:
        return hmac.new(self.signing_key, message.encode(), hashlib.sha256).hexdigest()

    def signature_valid(self, message: str, signature: str) -> bool:
        return hmac.compare_digest(self.sign(message), signature)

    # --- uploads -------------------------------------------------------------------------------

    def create_upload(self, filename: str) -> Upload:
        with self.lock:
            upload_id = str(uuid.uuid4())
            upload = Upload(
                id=upload_id,
                filename=filename,
                created_at=self.clock.now(),
                signature=self.sign(f"upload:{upload_id}"),
            )
            self.uploads[upload_id] = upload
            return upload

    def complete_upload(self, upload_id: str, signature: str, size: int) -> bool:
        with self.lock:
            upload = self.uploads.get(upload_id)
            if upload is None or not hmac.compare_digest(upload.signature, signature):
                return False
            upload.completed = True
            upload.size = size
            return True

    def runway_uri_usable(self, uri: str) -> bool:
        """A runway:// URI is usable when it names a completed upload of ours that has not expired."""
        upload_id = uri.removeprefix(RUNWAY_URI_PREFIX)
        with self.lock:
            upload = self.uploads.get(upload_id)
            return (
                upload is not None
                and upload.completed
                and self.clock.now() - upload.created_at < UPLOAD_LIFETIME_S
            )


RUNWAY_URI_PREFIX = "runway://uploads/"
FINAL_STATUSES = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})


def twin_rng(seed: int | None, operation: str, body: dict[str, Any]) -> random.Random:
    """A generator seeded from `seed` and the request itself: identical requests, identical draws."""
    canonical = json.dumps([seed, operation, body], sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.sha256(canonical.encode()).digest()
    return random.Random(int.from_bytes(digest[:16], "big"))  # noqa: S311  (simulation, not security)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
