"""The logic services wired to the in-memory fakes: what a unit test drives and observes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runway_bridge.errors import CallbackUrlRefusedError
from runway_bridge.logic.poller.service import PollerService
from runway_bridge.logic.submission.service import SubmissionService
from runway_bridge.logic.tasks.service import TaskService
from runway_bridge.logic.tenants.keys import Authenticator, KeyService
from runway_bridge.logic.tenants.usage import UsageService
from runway_bridge.models.records import CheckedUrl
from runway_bridge.settings import BridgeSettings
from tests.unit.fakes import (
    FakeApiKeyStore,
    FakeClock,
    FakeInputObjects,
    FakeJobStore,
    FakeObjectStore,
    FakePollerState,
    FakeTenantSecrets,
    RecordingPollerStarter,
    RecordingRejections,
    ScriptedRunway,
)

TENANT = "tenant-a"


def check_callback_url(url: str) -> CheckedUrl:
    """Accepts public https URLs; refuses any host named `internal...` like a private address."""
    host = url.split("://", 1)[-1].split("/", 1)[0]
    if not url.startswith("https://") or host.startswith("internal"):
        raise CallbackUrlRefusedError(f"callbackUrl: {host} is not allowed", reason="private_address")
    return CheckedUrl(url=url, scheme="https", host=host, port=443, address="93.184.216.34")


@dataclass
class Harness:
    settings: BridgeSettings
    clock: FakeClock
    jobs: FakeJobStore
    objects: FakeObjectStore
    inputs: FakeInputObjects
    runway: ScriptedRunway
    starter: RecordingPollerStarter
    rejections: RecordingRejections
    keys_store: FakeApiKeyStore
    secrets: FakeTenantSecrets
    state: FakePollerState
    submission: SubmissionService
    tasks: TaskService
    poller: PollerService
    keys: KeyService
    authenticator: Authenticator
    usage: UsageService

    def now(self) -> float:
        return self.clock().timestamp()


def build(**overrides: Any) -> Harness:
    # The task-id write runs on a thread the submit waits for: generous, so a loaded machine never
    # turns a write the fake makes at once into a hand-off.
    settings = BridgeSettings(**{"submit_record_budget_s": 10.0, **overrides})
    clock = FakeClock()
    jobs = FakeJobStore()
    objects = FakeObjectStore()
    inputs = FakeInputObjects()
    runway = ScriptedRunway()
    starter = RecordingPollerStarter()
    rejections = RecordingRejections()
    keys_store = FakeApiKeyStore()
    secrets = FakeTenantSecrets()
    state = FakePollerState(jobs)

    def submission_service(poller_starter: RecordingPollerStarter) -> SubmissionService:
        return SubmissionService(
            jobs=jobs,
            objects=objects,
            runway_factory=lambda: runway,
            settings=settings,
            clock=clock,
            poller_starter=poller_starter,
            check_callback_url=check_callback_url,
            rejections=rejections,
            tenants=keys_store,
            capacity=state,
            input_objects=inputs,
            sleep=lambda seconds: None,
        )

    submission = submission_service(starter)
    return Harness(
        settings=settings,
        clock=clock,
        jobs=jobs,
        objects=objects,
        inputs=inputs,
        runway=runway,
        starter=starter,
        rejections=rejections,
        keys_store=keys_store,
        secrets=secrets,
        state=state,
        submission=submission,
        tasks=TaskService(
            jobs=jobs, objects=objects, runway_factory=lambda: runway, settings=settings, clock=clock
        ),
        poller=PollerService(
            jobs=jobs,
            state=state,
            submission=submission_service(RecordingPollerStarter()),
            runway_factory=lambda: runway,
            settings=settings,
            clock=clock,
            successor=starter,
        ),
        keys=KeyService(keys=keys_store, tenants=keys_store, tenant_secrets=secrets, clock=clock),
        authenticator=Authenticator(keys_store),
        usage=UsageService(jobs=jobs, tenants=keys_store, clock=clock),
    )
