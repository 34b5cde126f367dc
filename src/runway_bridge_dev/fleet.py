"""A fleet of tenants through the whole local bridge: the scenario behind `bench/fleet.py` and the
fairness test (tests/fleet/test_fleet.py).

Several tenants (one bridge key each) submit jobs the way real callers do: small tenants at a steady
pace, a flooding tenant all at once. Every job names a callback URL on a local receiver that verifies
the Standard Webhooks signature with the tenant's secret and notes when each job's terminal event
arrived. Meanwhile the Runway emulator runs with a per-model concurrency limit, fails a share of its
tasks, drops a share of its creates after making the task, and answers every create with 429 for a
while (a storm). A few jobs are cancelled by their tenant right after submitting them.

After the run, each job is read back through the bridge (`GET /v1/tasks/{id}`) and the emulator is
asked what it did (its counters and every task it made, each tagged with the job's marker in the
prompt), which gives: jobs per terminal status, jobs lost (never terminal), Runway creates against
jobs with a task id, Runway tasks per job (more than one is a double create), submit-to-webhook
latency per tenant, and Runway GETs per job.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from standardwebhooks import Webhook, WebhookVerificationError

from runway_bridge_dev.emulator import EmulatorConfig
from runway_bridge_dev.local.stack import LocalStack
from runway_bridge_dev.webhooks import LOOPBACK_CALLBACKS

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT", "SUBMISSION_UNKNOWN"})
TERMINAL_EVENTS = frozenset(
    {"task.succeeded", "task.failed", "task.cancelled", "task.timed_out", "task.submission_unknown"}
)
# Every job is the same short image-to-video request; the marker in the prompt ties each Runway task
# to the job that made it.
MODEL = "gen4_turbo"
BODY = {
    "model": MODEL,
    "promptImage": "https://example.com/first-frame.jpg",
    "ratio": "1280:720",
    "duration": 5,
}
GET_TASK = "GET /v1/tasks/{id}"
HTTP_TIMEOUT_S = 30.0
SUBMIT_ATTEMPTS = 8
CANCEL_ATTEMPTS = 20
FLOOD_PARALLEL = 8


@dataclass(frozen=True)
class TenantLoad:
    """One tenant's jobs: `jobs` submits spread evenly over `span_s` seconds from `start_s` after
    the run starts (`span_s` 0: all at once, `parallel` at a time); `cancels` of them are cancelled
    right after their submit answers."""

    name: str
    jobs: int
    start_s: float
    span_s: float
    flood: bool = False
    parallel: int = 1
    cancels: int = 0


@dataclass(frozen=True)
class Scenario:
    tenants: tuple[TenantLoad, ...]
    # Runway: one model, this many tasks at a time, each lasting between task_min_s and task_max_s
    # (emulator clock, fast profile; at clock_speed 1 that is real time).
    concurrency_per_model: int = 20
    task_min_s: float = 5.0
    task_max_s: float = 10.0
    clock_speed: float = 1.0
    failure_rate: float = 0.02
    drop_create_rate: float = 0.01
    # Every create answers 429 (with this Retry-After) from storm_at_s for storm_s seconds.
    storm_at_s: float = 40.0
    storm_s: float = 15.0
    storm_retry_after_s: float = 2.0
    # After the last submit, every job has this long to end before it counts as lost.
    finish_within_s: float = 1800.0
    seed: int = 1

    @property
    def jobs(self) -> int:
        return sum(tenant.jobs for tenant in self.tenants)

    def without_flood(self) -> Scenario:
        return replace(self, tenants=tuple(tenant for tenant in self.tenants if not tenant.flood))

    def emulator_config(self) -> EmulatorConfig:
        return EmulatorConfig(
            profile="fast",
            seed=self.seed,
            clock_speed=self.clock_speed,
            min_duration_s=self.task_min_s,
            max_duration_s=self.task_max_s,
            concurrency_per_model=self.concurrency_per_model,
            failure_rate=self.failure_rate,
            drop_create_rate=self.drop_create_rate,
        )


def fleet_scenario(scale: float = 1.0, tenants: int = 5, seed: int = 1) -> Scenario:
    """1,000 jobs (x scale) from `tenants` tenants: one floods 70% of them in a burst 10 s in, the
    others share the rest, each at a steady pace over the first 4 minutes."""
    if tenants < 2:
        raise ValueError("a fleet needs a flooding tenant and at least one small one")
    total = max(round(1000 * scale), tenants)
    flood_jobs = round(total * 0.7)
    small_jobs = max((total - flood_jobs) // (tenants - 1), 1)
    small = tuple(
        TenantLoad(f"small{index}", small_jobs, start_s=0.0, span_s=240.0, cancels=1)
        for index in range(1, tenants)
    )
    flood = TenantLoad(
        "flood", flood_jobs, start_s=10.0, span_s=0.0, flood=True, parallel=FLOOD_PARALLEL, cancels=3
    )
    return Scenario(tenants=(flood, *small), storm_at_s=60.0, storm_s=15.0, seed=seed)


def small_fleet_scenario(seed: int = 1) -> Scenario:
    """130 jobs from 3 tenants, small enough for the test suite. Runway (6 at a time, 4-8 s each:
    ~1 task/s) is the narrowest stage, below what the local stack handles on a busy 2-core machine,
    so what the flood does to the others is the bridge's choice of whom to send, not CPU contention.
    The flood (100 jobs at once, 5 s in) alone keeps Runway busy for over 90 s; each small tenant (15
    jobs over 60 s) needs about 1.5 of Runway's six slots, within a fair third."""
    small = tuple(TenantLoad(f"small{index}", 15, start_s=0.0, span_s=60.0, cancels=1) for index in (1, 2))
    flood = TenantLoad("flood", 100, start_s=5.0, span_s=0.0, flood=True, parallel=FLOOD_PARALLEL, cancels=2)
    return Scenario(
        tenants=(flood, *small),
        concurrency_per_model=6,
        task_min_s=4.0,
        task_max_s=8.0,
        storm_at_s=20.0,
        storm_s=6.0,
        finish_within_s=400.0,
        seed=seed,
    )


# --- what a run measured ----------------------------------------------------------------------------


@dataclass
class JobRecord:
    tenant: str
    marker: str
    submitted_at: float
    job_id: str | None = None
    submit_error: str | None = None
    cancel_requested: bool = False
    cancel_answer: int | None = None
    webhook_type: str | None = None
    webhook_at: float | None = None
    status: str | None = None  # bridge.status at the end
    runway_task_id: str | None = None


@dataclass
class TenantReport:
    tenant: str
    jobs: int
    statuses: dict[str, int]
    lost: int
    not_submitted: int
    without_webhook: int
    jobs_with_task_id: int
    # Runway tasks made for this tenant's jobs (from the job marker in each task's prompt).
    runway_tasks: int
    latency_n: int
    latency_median_s: float | None
    latency_p95_s: float | None


@dataclass
class RunReport:
    label: str
    jobs: int
    tenants: list[TenantReport]
    overall: TenantReport
    runway_creates: int
    runway_create_requests: int
    runway_gets: int
    runway_gets_per_job: float
    jobs_with_task_id: int
    # Runway tasks no job knows the id of (each a create that was dropped after Runway made it).
    orphan_tasks: int
    # Jobs that made more than one Runway task, and task ids claimed by more than one job.
    doubled_jobs: int
    shared_task_ids: int
    # Jobs whose Runway task was made from another job's request (its prompt names another job).
    crossed_jobs: int
    bad_signatures: int
    submit_span_s: float
    wall_s: float
    small_tenants_p95_s: float | None = None
    # For each task id claimed by more than one job: "task: job(status, marker), ...", to find why.
    shared_task_claims: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


# --- the webhook receiver -----------------------------------------------------------------------------


class Receiver:
    """Plain HTTP on loopback: `/hook/<tenant>` verifies the signature with that tenant's secret and
    notes the first terminal event per job."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._verifiers: dict[str, Webhook] = {}
        self.terminal: dict[str, tuple[str, float]] = {}
        self.bad_signatures = 0
        self._server: ThreadingHTTPServer | None = None

    def add_tenant(self, tenant_id: str, secret: str) -> str:
        with self._lock:
            self._verifiers[tenant_id] = Webhook(secret)
        return f"{self.base_url}/hook/{tenant_id}"

    def arrived(self, job_id: str) -> tuple[str, float] | None:
        with self._lock:
            return self.terminal.get(job_id)

    def _note(self, tenant_id: str, body: bytes, headers: dict[str, str], at: float) -> bool:
        with self._lock:
            verifier = self._verifiers.get(tenant_id)
        if verifier is None:
            return False
        try:
            payload = verifier.verify(body, headers)
        except WebhookVerificationError:
            with self._lock:
                self.bad_signatures += 1
            return False
        if payload.get("type") in TERMINAL_EVENTS:
            job_id = str(payload["data"]["jobId"])
            with self._lock:
                self.terminal.setdefault(job_id, (str(payload["type"]), at))
        return True

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the receiver is not running")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @contextlib.contextmanager
    def running(self) -> Iterator[Receiver]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                at = time.time()
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                tenant_id = self.path.rstrip("/").rsplit("/", 1)[-1]
                headers = {name.lower(): value for name, value in self.headers.items()}
                self.send_response(204 if receiver._note(tenant_id, body, headers, at) else 400)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        thread = threading.Thread(target=server.serve_forever, name="fleet-receiver", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            self._server = None


# --- the stack ----------------------------------------------------------------------------------------


# Local receivers listen on http://127.0.0.1 (the bridge's SSRF guard refuses it by default); the
# functions' metrics would only add lines between the figures.
STACK_ENVIRONMENT = {**LOOPBACK_CALLBACKS, "POWERTOOLS_METRICS_DISABLED": "true"}


@contextlib.contextmanager
def fleet_stack(scenario: Scenario, parameters: dict[str, str] | None = None) -> Iterator[LocalStack]:
    """The whole bridge in this process, over moto and the emulator (as `runway-bridge dev` runs it,
    functions logging at WARNING), accepting loopback callbacks while it runs; the environment is
    restored when it stops. The bridge is told Runway's concurrency (`RunwayConcurrency`), as an
    operator who knows the account's tier would."""
    saved = {name: os.environ.get(name) for name in STACK_ENVIRONMENT}
    os.environ.update(STACK_ENVIRONMENT)
    try:
        with LocalStack(
            emulator_config=scenario.emulator_config(),
            parameters={
                "LogLevel": "WARNING",
                "RunwayConcurrency": str(scenario.concurrency_per_model),
                **(parameters or {}),
            },
        ) as stack:
            yield stack
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class _Emulator:
    """The emulator's admin routes (`/_emulator/...`) over HTTP, as for a stack in another process."""

    def __init__(self, base_url: str) -> None:
        self._http = httpx.Client(base_url=f"{base_url}/_emulator", timeout=HTTP_TIMEOUT_S)

    def configure(self, **fields: Any) -> None:
        self._http.patch("/config", json=fields).raise_for_status()

    def reset_counters(self) -> None:
        self._http.post("/reset").raise_for_status()

    def counters(self) -> dict[str, int]:
        answer = self._http.get("/counters")
        answer.raise_for_status()
        counters: dict[str, int] = answer.json()
        return counters

    def tasks(self) -> list[dict[str, Any]]:
        answer = self._http.get("/tasks")
        answer.raise_for_status()
        tasks: list[dict[str, Any]] = answer.json()
        return tasks

    def close(self) -> None:
        self._http.close()


# --- one run ------------------------------------------------------------------------------------------


class FleetRun:
    """Runs `scenario` once against a running stack and measures it (see the module docs)."""

    def __init__(
        self,
        stack: LocalStack,
        scenario: Scenario,
        *,
        label: str,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        if stack.runway_base_url is None or stack.emulator is None:
            raise ValueError("the fleet runs against the Runway emulator")
        self.stack = stack
        self.scenario = scenario
        self.label = label
        self.progress = progress or (lambda _line: None)
        self.records: list[JobRecord] = []
        self._records_lock = threading.Lock()
        self._run_id = uuid.uuid4().hex[:8]

    def run(self) -> RunReport:
        from runway_bridge_dev.keys_cli import create_key  # noqa: PLC0415  (needs the stack's environment)

        scenario = self.scenario
        emulator = _Emulator(str(self.stack.runway_base_url))
        emulator.configure(**scenario.emulator_config().model_dump(exclude={"api_key", "seed"}))
        emulator.reset_counters()
        started_wall = time.monotonic()
        receiver = Receiver()
        with receiver.running(), httpx.Client(base_url=self.stack.api_url, timeout=HTTP_TIMEOUT_S) as api:
            keys: dict[str, tuple[str, str, str]] = {}
            for load in scenario.tenants:
                tenant_id = f"fleet-{self.label}-{load.name}-{self._run_id}"
                created = create_key(tenant_id, "fleet")
                callback = receiver.add_tenant(tenant_id, created.webhook_secret or "")
                keys[load.name] = (tenant_id, created.api_key, callback)
            start = time.monotonic() + 1.0
            storm = threading.Thread(target=self._storm, args=(emulator, start), daemon=True)
            storm.start()
            with ThreadPoolExecutor(max(1, len(scenario.tenants))) as tenants_pool:
                submitters = [
                    tenants_pool.submit(
                        self._tenant, api, load, keys[load.name][1], keys[load.name][2], start
                    )
                    for load in scenario.tenants
                ]
                for submitter in submitters:
                    submitter.result()
            submit_span_s = time.monotonic() - start
            self.progress(f"[{self.label}] {len(self.records)} jobs submitted in {submit_span_s:.0f} s")
            storm.join()
            self._wait_for_webhooks(receiver, deadline=time.monotonic() + scenario.finish_within_s)
            self._read_back(api, {load.name: keys[load.name][1] for load in scenario.tenants}, receiver)
        counters = emulator.counters()
        tasks = [task for task in emulator.tasks() if self._marker_prefix in (task.get("promptText") or "")]
        emulator.close()
        return summarize(
            self.label,
            scenario,
            list(self.records),
            counters=counters,
            tasks=tasks,
            marker_prefix=self._marker_prefix,
            bad_signatures=receiver.bad_signatures,
            submit_span_s=submit_span_s,
            wall_s=time.monotonic() - started_wall,
        )

    @property
    def _marker_prefix(self) -> str:
        return f"fleet:{self._run_id}:"

    # --- load ---------------------------------------------------------------------------------------

    def _storm(self, emulator: _Emulator, start: float) -> None:
        scenario = self.scenario
        if scenario.storm_s <= 0:
            return
        time.sleep(max(0.0, start + scenario.storm_at_s - time.monotonic()))
        emulator.configure(
            create_error_rate=1.0, error_statuses=[429], retry_after_s=scenario.storm_retry_after_s
        )
        self.progress(f"[{self.label}] 429 storm on creates for {scenario.storm_s:.0f} s")
        time.sleep(scenario.storm_s)
        emulator.configure(create_error_rate=0.0, retry_after_s=None)
        self.progress(f"[{self.label}] storm over")

    def _tenant(self, api: httpx.Client, load: TenantLoad, key: str, callback: str, start: float) -> None:
        step = load.span_s / load.jobs if load.jobs else 0.0
        every = max(1, load.jobs // load.cancels) if load.cancels else 0
        with ThreadPoolExecutor(load.parallel) as pool:
            jobs = [
                pool.submit(
                    self._job,
                    api,
                    load,
                    key,
                    callback,
                    index,
                    start + load.start_s + index * step,
                    bool(every) and index % every == every // 2,
                )
                for index in range(load.jobs)
            ]
            for job in jobs:
                job.result()

    def _job(  # noqa: PLR0917  (one call site, in _tenant)
        self,
        api: httpx.Client,
        load: TenantLoad,
        key: str,
        callback: str,
        index: int,
        due: float,
        cancel: bool,
    ) -> None:
        # Pacing: a steady caller submits at its own times, not as fast as the bridge answers.
        time.sleep(max(0.0, due - time.monotonic()))
        record = JobRecord(load.name, f"{self._marker_prefix}{load.name}:{index}", time.time())
        with self._records_lock:
            self.records.append(record)
        try:
            self._submit(api, record, key, callback, cancel)
        except Exception as exc:  # noqa: BLE001  (the record shows it; the other jobs go on)
            record.submit_error = f"{type(exc).__name__}: {exc}"

    def _submit(self, api: httpx.Client, record: JobRecord, key: str, callback: str, cancel: bool) -> None:
        headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": record.marker}
        body = {**BODY, "promptText": f"a misty valley [{record.marker}]", "callbackUrl": callback}
        for attempt in range(SUBMIT_ATTEMPTS):
            try:
                answer = api.post("/v1/image_to_video", json=body, headers=headers)
            except httpx.HTTPError as exc:
                record.submit_error = f"{type(exc).__name__}: {exc}"
                time.sleep(_backoff(attempt))
                continue
            if answer.status_code == 200:
                record.job_id = str(answer.json()["id"])
                record.submit_error = None
                break
            record.submit_error = f"{answer.status_code}: {answer.text[:200]}"
            if answer.status_code not in {409, 429} and answer.status_code < 500:
                return
            time.sleep(_retry_delay(answer, attempt))
        if record.job_id is not None and cancel:
            record.cancel_requested = True
            self._cancel(api, record, headers)

    def _cancel(self, api: httpx.Client, record: JobRecord, headers: dict[str, str]) -> None:
        auth = {"Authorization": headers["Authorization"]}
        for attempt in range(CANCEL_ATTEMPTS):
            try:
                answer = api.delete(f"/v1/tasks/{record.job_id}", headers=auth)
            except httpx.HTTPError:
                time.sleep(_backoff(attempt, 4.0))
                continue
            record.cancel_answer = answer.status_code
            # 409: its create or copy is in flight; 5xx/429: try again shortly.
            if answer.status_code not in {409, 429} and answer.status_code < 500:
                return
            time.sleep(_retry_delay(answer, attempt))

    # --- the end --------------------------------------------------------------------------------------

    def _wait_for_webhooks(self, receiver: Receiver, *, deadline: float) -> None:
        shown = ""
        while time.monotonic() < deadline:
            submitted = [record for record in self.records if record.job_id is not None]
            arrived = sum(receiver.arrived(str(record.job_id)) is not None for record in submitted)
            line = f"[{self.label}] terminal webhooks {arrived}/{len(submitted)}"
            if line != shown:
                self.progress(line)
                shown = line
            if arrived >= len(submitted):
                return
            time.sleep(2.0)

    def _read_back(self, api: httpx.Client, keys: dict[str, str], receiver: Receiver) -> None:
        def read(record: JobRecord) -> None:
            arrived = receiver.arrived(str(record.job_id))
            if arrived is not None:
                record.webhook_type, record.webhook_at = arrived
            headers = {"Authorization": f"Bearer {keys[record.tenant]}"}
            for attempt in range(5):
                try:
                    answer = api.get(f"/v1/tasks/{record.job_id}", headers=headers)
                except httpx.HTTPError:
                    time.sleep(_backoff(attempt))
                    continue
                if answer.status_code == 404 and record.cancel_requested:
                    record.status = "DELETED"  # the cancel reached a job that had just finished
                    return
                if answer.status_code == 200:
                    bridge = answer.json()["bridge"]
                    record.status = str(bridge["status"])
                    record.runway_task_id = bridge.get("runwayTaskId")
                    return
                time.sleep(_retry_delay(answer, attempt))

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(read, [record for record in self.records if record.job_id is not None]))


def summarize(
    label: str,
    scenario: Scenario,
    records: list[JobRecord],
    *,
    counters: dict[str, int],
    tasks: list[dict[str, Any]],
    marker_prefix: str,
    bad_signatures: int = 0,
    submit_span_s: float = 0.0,
    wall_s: float = 0.0,
) -> RunReport:
    """The figures of a run: its jobs as read back, the emulator's counters and the tasks it made
    for this run (those whose prompt carries `marker_prefix`)."""
    per_marker = Counter(
        marker
        for task in tasks
        for marker in [_marker_in(str(task.get("promptText") or ""), marker_prefix)]
        if marker
    )
    claimed = Counter(record.runway_task_id for record in records if record.runway_task_id)
    marker_of_task = {
        str(task["id"]): _marker_in(str(task.get("promptText") or ""), marker_prefix) for task in tasks
    }
    with_task_id = sum(claimed.values())
    gets = counters.get(GET_TASK, 0)
    loads = {load.name: load for load in scenario.tenants}
    small_latencies = _latencies([record for record in records if not loads[record.tenant].flood])
    return RunReport(
        label=label,
        jobs=len(records),
        tenants=[
            _tenant_report(
                name,
                [r for r in records if r.tenant == name],
                runway_tasks=sum(
                    n for marker, n in per_marker.items() if marker.startswith(f"{marker_prefix}{name}:")
                ),
            )
            for name in loads
        ],
        overall=_tenant_report("overall", records, runway_tasks=sum(per_marker.values())),
        runway_creates=counters.get("tasks_created", 0),
        runway_create_requests=sum(
            count
            for route, count in counters.items()
            if route.startswith("POST /v1/") and "upload" not in route
        ),
        runway_gets=gets,
        runway_gets_per_job=round(gets / with_task_id, 2) if with_task_id else 0.0,
        jobs_with_task_id=with_task_id,
        orphan_tasks=sum(1 for task in tasks if task["id"] not in claimed),
        doubled_jobs=sum(1 for count in per_marker.values() if count > 1),
        shared_task_ids=sum(1 for count in claimed.values() if count > 1),
        crossed_jobs=sum(
            1
            for record in records
            if record.runway_task_id in marker_of_task
            and marker_of_task[record.runway_task_id] != record.marker
        ),
        bad_signatures=bad_signatures,
        submit_span_s=round(submit_span_s, 1),
        wall_s=round(wall_s, 1),
        small_tenants_p95_s=round(percentile(small_latencies, 0.95), 2) if small_latencies else None,
        shared_task_claims=[
            f"{task_id}: "
            + ", ".join(
                f"{record.job_id}({record.status}, {record.marker})"
                for record in records
                if record.runway_task_id == task_id
            )
            for task_id, count in claimed.items()
            if count > 1
        ],
    )


def _retry_delay(answer: httpx.Response, attempt: int) -> float:
    try:
        return min(float(answer.headers["Retry-After"]), 10.0)
    except (KeyError, ValueError):
        return _backoff(attempt)


def _backoff(attempt: int, cap_s: float = 8.0) -> float:
    return min(0.5 * 2.0**attempt, cap_s)


def _marker_in(prompt: str, prefix: str) -> str | None:
    start = prompt.find(prefix)
    if start < 0:
        return None
    end = prompt.find("]", start)
    return prompt[start:end] if end >= 0 else prompt[start:]


def _latencies(records: list[JobRecord]) -> list[float]:
    """Submit to verified terminal webhook, for the jobs their tenant did not cancel."""
    return [
        record.webhook_at - record.submitted_at
        for record in records
        if record.webhook_at is not None and not record.cancel_requested
    ]


def _tenant_report(name: str, records: list[JobRecord], *, runway_tasks: int) -> TenantReport:
    submitted = [record for record in records if record.job_id is not None]
    latencies = _latencies(submitted)
    return TenantReport(
        tenant=name,
        jobs=len(records),
        statuses=dict(sorted(Counter(record.status or "UNREAD" for record in submitted).items())),
        lost=sum(1 for r in submitted if r.status not in TERMINAL and r.status != "DELETED"),
        not_submitted=len(records) - len(submitted),
        without_webhook=sum(1 for record in submitted if record.webhook_at is None),
        jobs_with_task_id=sum(1 for record in submitted if record.runway_task_id),
        runway_tasks=runway_tasks,
        latency_n=len(latencies),
        latency_median_s=round(statistics.median(latencies), 2) if latencies else None,
        latency_p95_s=round(percentile(latencies, 0.95), 2) if latencies else None,
    )


def format_report(report: RunReport) -> str:
    lines = [
        f"== {report.label}: {report.jobs} jobs, wall {report.wall_s:.0f} s "
        f"(submits over {report.submit_span_s:.0f} s)",
        f"{'tenant':<10} {'jobs':>5} {'lost':>5} {'no-hook':>7} {'task-id':>7} {'tasks':>5} {'median s':>9} "
        f"{'p95 s':>7}  statuses",
    ]
    for tenant in [*report.tenants, report.overall]:
        statuses = " ".join(f"{status}={count}" for status, count in tenant.statuses.items())
        lines.append(
            f"{tenant.tenant:<10} {tenant.jobs:>5} {tenant.lost:>5} {tenant.without_webhook:>7} "
            f"{tenant.jobs_with_task_id:>7} {tenant.runway_tasks:>5} {_seconds(tenant.latency_median_s):>9} "
            f"{_seconds(tenant.latency_p95_s):>7}  {statuses}"
            + (f" not-submitted={tenant.not_submitted}" if tenant.not_submitted else "")
        )
    lines.append(
        f"Runway: {report.runway_creates} tasks created ({report.runway_create_requests} create requests), "
        f"{report.jobs_with_task_id} jobs with a task id, {report.orphan_tasks} tasks no job knows "
        f"(dropped creates), {report.doubled_jobs} jobs with more than one task, "
        f"{report.shared_task_ids} task ids shared by jobs, "
        f"{report.crossed_jobs} jobs whose task carries another job's request"
    )
    lines.append(
        f"Runway GETs: {report.runway_gets} ({report.runway_gets_per_job} per job with a task id); "
        f"bad webhook signatures: {report.bad_signatures}"
    )
    return "\n".join(lines)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def as_json(reports: list[RunReport], extra: dict[str, Any]) -> str:
    return json.dumps({"runs": [report.as_dict() for report in reports], **extra}, indent=2)
