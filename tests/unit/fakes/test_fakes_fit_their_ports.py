"""Each fake is assignable to the port it stands in for (mypy checks these assignments), so a port
that changes its signature breaks the fake at type-check time, not deep inside a unit test."""

from __future__ import annotations

from runway_bridge.logic.copy.streaming import MultipartStore, OutputSource
from runway_bridge.logic.notifications.delivery import DeadLetters, DeliveryJobs
from runway_bridge.logic.notifications.relay import RelayStore
from runway_bridge.logic.ports import (
    ApiKeyStore,
    DeliveryAttemptStore,
    InputObjects,
    JobStore,
    NotificationChannel,
    ObjectStore,
    PollerStarter,
    PollerState,
    RejectionPublisher,
    RunwayApi,
    RunwayCapacity,
    TenantDirectory,
    TenantSecrets,
    WebhookQueue,
    WebhookSender,
)
from tests.unit.fakes import (
    FakeApiKeyStore,
    FakeInputObjects,
    FakeJobStore,
    FakeMultipartStore,
    FakeObjectStore,
    FakeOutputSource,
    FakePollerState,
    FakeTenantSecrets,
    RecordingChannel,
    RecordingDeadLetters,
    RecordingPollerStarter,
    RecordingRejections,
    RecordingWebhookQueue,
    ScriptedRunway,
    ScriptedWebhookSender,
)


def test_every_fake_fits_its_port() -> None:
    jobs = FakeJobStore()
    keys = FakeApiKeyStore()
    state = FakePollerState(jobs)
    ports: list[object] = []
    job_store: JobStore = jobs
    relay_store: RelayStore = jobs
    delivery_jobs: DeliveryJobs = jobs
    attempts: DeliveryAttemptStore = jobs
    poller_state: PollerState = state
    capacity: RunwayCapacity = state
    objects: ObjectStore = FakeObjectStore()
    runway: RunwayApi = ScriptedRunway()
    starter: PollerStarter = RecordingPollerStarter()
    rejections: RejectionPublisher = RecordingRejections()
    key_store: ApiKeyStore = keys
    directory: TenantDirectory = keys
    secrets: TenantSecrets = FakeTenantSecrets()
    publisher: NotificationChannel = RecordingChannel()
    queue: WebhookQueue = RecordingWebhookQueue()
    sender: WebhookSender = ScriptedWebhookSender()
    dead_letters: DeadLetters = RecordingDeadLetters()
    source: OutputSource = FakeOutputSource()
    store: MultipartStore = FakeMultipartStore()
    inputs: InputObjects = FakeInputObjects()
    ports += [job_store, relay_store, delivery_jobs, attempts, poller_state, capacity, objects, runway]
    ports += [starter, rejections, key_store, directory, secrets, publisher, queue, sender, dead_letters]
    ports += [source, store, inputs]
    assert all(port is not None for port in ports)
