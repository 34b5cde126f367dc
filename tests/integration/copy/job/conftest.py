"""The bridge's real template in `LocalStack` (moto, handlers in-process, the local API Gateway, the
SQS poller running the copier), the Runway emulator behind a `FaultProxy`, and helpers that put a
job where the poller would leave it: COPYING, with its id on CopyQueue."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest

from runway_bridge.adapters.jobs.store import DynamoJobStore
from runway_bridge.errors import StoreConditionFailedError
from runway_bridge.models.job import Job, JobStatus
from runway_bridge_dev.emulator import EmulatorConfig, RunwayEmulator
from runway_bridge_dev.local.stack import LocalStack, RealRunway
from tests.e2e.api.conftest import Tenant, forget_process_caches, new_tenant
from tests.integration.copy.job.fault_proxy import FaultProxy

T = TypeVar("T")
RUNWAY_VERSION = "2024-11-06"
TEXT_TO_VIDEO = {"model": "gen4.5", "promptText": "a lighthouse at dusk", "ratio": "1280:720", "duration": 5}
COPY_MAPPING = "CopyOutputsFunctionCopyRequested"
# Default of `copy_watchdog_s`: the poller hands a COPYING job to the queue again only after this.
COPY_WATCHDOG_S = 900.0
# Fast emulated tasks (a 6 s task takes 0.3 s); output URL lifetimes are on this clock too.
CLOCK_SPEED = 20.0


def wait_for(probe: Callable[[], T | None], *, timeout_s: float = 20.0, interval_s: float = 0.05) -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout_s} s (last value: {value!r})")
        time.sleep(interval_s)


@dataclass
class Bridge:
    stack: LocalStack
    emulator: RunwayEmulator
    proxy: FaultProxy
    jobs: DynamoJobStore
    runway: httpx.Client  # straight to the emulator: what Runway really serves

    def client(self, service: str) -> Any:
        return self.stack.aws.boto3_client(service)

    def physical(self, logical_id: str) -> str:
        return str(self.stack.aws.resolve({"Ref": logical_id}))

    @property
    def bucket(self) -> str:
        return self.physical("ArtifactsBucket")

    @property
    def copies_handled(self) -> int:
        """Copy messages the SQS poller deleted (handled, or skipped as nothing to do)."""
        return self.stack.pollers[COPY_MAPPING].deleted

    def submit(self, tenant: Tenant, api: httpx.Client) -> str:
        answer = api.post("/v1/text_to_video", json=TEXT_TO_VIDEO, headers=tenant.bearer)
        assert answer.status_code == 200, answer.text
        job_id: str = answer.json()["id"]
        return job_id

    def runway_task(self, job: Job) -> dict[str, Any]:
        assert job.runway_task_id is not None
        task: dict[str, Any] = self.runway.get(f"/v1/tasks/{job.runway_task_id}").json()
        return task

    def finished_at_runway(self, job_id: str) -> Job:
        """Wait until Runway's task of `job_id` has succeeded (the job has its task id)."""

        def probe() -> Job | None:
            job = self.jobs.get(job_id)
            if job is None or job.runway_task_id is None:
                return None
            return job if self.runway_task(job)["status"] == "SUCCEEDED" else None

        return wait_for(probe)

    def to_copying(self, job_id: str, finished: Job | None = None, *, send: bool = True) -> bool:
        """What the poller does on SUCCEEDED: COPYING, then the id on CopyQueue. False if a poller
        run got there first (it sent the message itself). `finished`: the job, seen finished."""
        job = finished or self.finished_at_runway(job_id)
        while job.status is not JobStatus.COPYING:
            try:
                # As the poller does: its copy watchdog looks again only after COPY_WATCHDOG_S.
                self.jobs.transition(
                    job,
                    JobStatus.COPYING,
                    changes={
                        "runway_status": "SUCCEEDED",
                        "progress": 1.0,
                        "next_poll_at": time.time() + COPY_WATCHDOG_S,
                    },
                )
            except StoreConditionFailedError:
                fresh = self.jobs.get(job_id)
                assert fresh is not None
                job = fresh
                continue
            if send:
                self.send_copy(job_id)
            return True
        return False

    def send_copy(self, job_id: str, outputs: list[str] | None = None) -> None:
        message: dict[str, object] = {"jobId": job_id, **({"outputs": outputs} if outputs else {})}
        self.client("sqs").send_message(QueueUrl=self.physical("CopyQueue"), MessageBody=json.dumps(message))

    def finished(self, job_id: str, *, timeout_s: float = 20.0) -> Job:
        def probe() -> Job | None:
            job = self.jobs.get(job_id)
            return job if job is not None and job.is_terminal else None

        return wait_for(probe, timeout_s=timeout_s)

    def served_bytes(self, job: Job) -> list[bytes]:
        """Each output as the emulator serves it (fresh URLs from Runway itself)."""
        return [httpx.get(url, timeout=30).content for url in self.runway_task(job)["output"]]

    def stored(self, s3_uri: str) -> bytes:
        bucket, key = s3_uri.removeprefix("s3://").split("/", 1)
        body: bytes = self.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        return body

    def open_uploads(self) -> list[dict[str, Any]]:
        uploads: list[dict[str, Any]] = (
            self.client("s3").list_multipart_uploads(Bucket=self.bucket).get("Uploads", [])
        )
        return uploads

    def dead_letters(self) -> int:
        attributes = self.client("sqs").get_queue_attributes(
            QueueUrl=self.physical("CopyDeadLetterQueue"),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def start_bridge(
    parameters: Mapping[str, str] | None = None, environment: Mapping[str, str] | None = None, **emulator: Any
) -> Iterator[Bridge]:
    """One bridge for a test module; `environment` holds BRIDGE_* settings for this run only."""
    saved = {name: os.environ.get(name) for name in environment or {}}
    os.environ.update(environment or {})
    config = EmulatorConfig(profile="fast", seed=5, clock_speed=CLOCK_SPEED, **emulator)
    with RunwayEmulator(config) as emulator_running:
        proxy = FaultProxy(emulator_running.base_url).start()
        stack = LocalStack(
            real_runway=RealRunway(api_key=emulator_running.api_key, base_url=proxy.base_url),
            parameters=dict(parameters or {}),
            run_schedules=False,
        )
        try:
            stack.start()
            forget_process_caches()
            from runway_bridge.adapters.aws import aws_client  # noqa: PLC0415

            jobs = DynamoJobStore(aws_client("dynamodb"), str(stack.aws.resolve({"Ref": "JobsTable"})))
            with httpx.Client(
                base_url=emulator_running.base_url,
                headers={
                    "Authorization": f"Bearer {emulator_running.api_key}",
                    "X-Runway-Version": RUNWAY_VERSION,
                },
                timeout=10.0,
            ) as runway:
                yield Bridge(stack, emulator_running, proxy, jobs, runway)
        finally:
            proxy.stop()
            stack.stop()
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            forget_process_caches()


@pytest.fixture
def api(bridge: Bridge) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=bridge.stack.api_url, timeout=40) as client:
        yield client


@pytest.fixture
def tenant(bridge: Bridge) -> Tenant:
    return new_tenant("copy")
