"""Fixtures for the logic/adapter tests: a real moto server on a free loopback port (one per
xdist worker), tables built from template.yaml's own definitions (fresh names per test), the real
Runway emulator over loopback, and the services wired to the real adapters."""

from __future__ import annotations

import copy
import functools
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from runway_bridge.adapters.jobs.store import DynamoJobStore
from runway_bridge.adapters.object_store import S3InputObjects, S3ObjectStore
from runway_bridge.adapters.poller.state import DynamoPollerState
from runway_bridge.adapters.runway.client import RunwayClient
from runway_bridge.adapters.secrets import SecretsManagerTenantSecrets
from runway_bridge.adapters.submission.rejections import EventBridgeRejectionPublisher
from runway_bridge.adapters.tenants.api_keys import DynamoApiKeyStore
from runway_bridge.adapters.url_guard import UrlGuard
from runway_bridge.logic.poller.service import PollerService
from runway_bridge.logic.submission.service import SubmissionService
from runway_bridge.logic.tasks.service import TaskService
from runway_bridge.logic.tenants.keys import Authenticator, KeyService
from runway_bridge.settings import BridgeSettings
from runway_bridge_dev.emulator import EmulatorConfig, RunwayEmulator
from runway_bridge_dev.local import moto_adaptations

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
REGION = "us-east-1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _CfnLoader(yaml.SafeLoader):
    """Reads template.yaml; CloudFormation tags (!Ref, !Sub, ...) become plain values."""


def _any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)  # type: ignore[arg-type]


_CfnLoader.add_multi_constructor("!", _any_tag)


@functools.cache
def _template() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)
    return loaded


def table_definition(logical_id: str) -> dict[str, Any]:
    """The table's CreateTable arguments as template.yaml declares them (the schema under test)."""
    properties = copy.deepcopy(_template()["Resources"][logical_id]["Properties"])
    wanted = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode")
    return {name: properties[name] for name in wanted if name in properties}


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    # DynamoDB as it behaves: atomic conditional writes, and a cancelled transaction that leaves
    # other writes alone (moto alone rolls the whole table back to its copy, undoing a racing
    # request's committed write). Stack tests in the same worker install these anyway; without
    # them here, a logic test's outcome depended on which tests its worker ran before.
    moto_adaptations.install()
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


class TestClock:
    """The services' wall clock; tests move it instead of sleeping (lease expiry, input age)."""

    __test__ = False

    def __init__(self) -> None:
        self._now = datetime.now(UTC)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)


class RecordingPollerStarter:
    def __init__(self) -> None:
        self.started: list[str] = []

    def start(self, job_id: str) -> None:
        self.started.append(job_id)


@dataclass
class Aws:
    endpoint: str
    dynamodb: Any
    s3: Any
    secretsmanager: Any
    events: Any
    sqs: Any
    apigateway: Any
    jobs_table: str
    keys_table: str
    bucket: str
    bus: str
    rejection_queue_url: str

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION)

    def scan(self, table: str) -> list[dict[str, Any]]:
        return list(self.dynamodb.scan(TableName=table).get("Items", []))

    def object_keys(self) -> list[str]:
        answer = self.s3.list_objects_v2(Bucket=self.bucket)
        return [item["Key"] for item in answer.get("Contents", [])]

    def rejections(self, wait_s: int = 0) -> list[dict[str, Any]]:
        answer = self.sqs.receive_message(
            QueueUrl=self.rejection_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_s
        )
        return [__import__("json").loads(message["Body"]) for message in answer.get("Messages", [])]


@pytest.fixture(scope="session")
def aws_clients(moto_url: str) -> dict[str, Any]:
    # boto3 clients take ~0.15 s each to build: one set per worker, except DynamoDB (see `aws`).
    names = ("s3", "events", "sqs", "apigateway", "secretsmanager")
    return {name: boto3.client(name, endpoint_url=moto_url, region_name=REGION) for name in names}


def _make_shared_aws(aws_clients: dict[str, Any]) -> dict[str, str]:
    suffix = uuid.uuid4().hex[:10]
    events, sqs = (aws_clients[name] for name in ("events", "sqs"))
    bus = f"bus-{suffix}"
    events.create_event_bus(Name=bus)
    queue_url = sqs.create_queue(QueueName=f"rejections-{suffix}")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
    events.put_rule(
        Name=f"rejections-{suffix}",
        EventBusName=bus,
        EventPattern='{"detail-type": ["Generation Rejected"]}',
    )
    events.put_targets(
        Rule=f"rejections-{suffix}",
        EventBusName=bus,
        Targets=[{"Id": "queue", "Arn": attributes["QueueArn"]}],
    )
    return {"bus": bus, "queue_url": queue_url}


@pytest.fixture(scope="session")
def _shared_aws_cache() -> dict[str, str]:
    return {}


@pytest.fixture
def shared_aws(aws_clients: dict[str, Any], _shared_aws_cache: dict[str, str]) -> dict[str, str]:
    """Per worker: a bus whose rule copies rejections to a queue (tests tell their own messages
    apart by ids, so sharing it is safe and saves setup time). A local stack that stops in this
    worker resets moto's process-global state (moto_adaptations), taking the bus with it: then it
    is made again, so a test's outcome does not depend on which tests its worker ran before."""
    cache = _shared_aws_cache
    if cache:
        try:
            aws_clients["events"].describe_event_bus(Name=cache["bus"])
        except ClientError:
            cache.clear()
    if not cache:
        cache.update(_make_shared_aws(aws_clients))
    return cache


@pytest.fixture
def aws(moto_url: str, aws_clients: dict[str, Any], shared_aws: dict[str, str]) -> Aws:
    """Fresh tables and bucket per test (from template.yaml's table definitions)."""
    suffix = uuid.uuid4().hex[:10]
    # Per test: fault-injection hooks are registered on this client and must not outlive the test.
    dynamodb = boto3.client("dynamodb", endpoint_url=moto_url, region_name=REGION)
    jobs_table, keys_table = f"jobs-{suffix}", f"keys-{suffix}"
    dynamodb.create_table(TableName=jobs_table, **table_definition("JobsTable"))
    dynamodb.create_table(TableName=keys_table, **table_definition("ApiKeysTable"))
    bucket = f"artifacts-{suffix}"
    aws_clients["s3"].create_bucket(Bucket=bucket)
    return Aws(
        endpoint=moto_url,
        dynamodb=dynamodb,
        s3=aws_clients["s3"],
        secretsmanager=aws_clients["secretsmanager"],
        events=aws_clients["events"],
        sqs=aws_clients["sqs"],
        apigateway=aws_clients["apigateway"],
        jobs_table=jobs_table,
        keys_table=keys_table,
        bucket=bucket,
        bus=shared_aws["bus"],
        rejection_queue_url=shared_aws["queue_url"],
    )


@pytest.fixture
def emulator() -> Iterator[RunwayEmulator]:
    with RunwayEmulator(EmulatorConfig(seed=7, clock_speed=20.0)) as running:
        yield running


@dataclass
class Bridge:
    """The services under test plus what tests need to observe and steer them."""

    aws: Aws
    emulator: RunwayEmulator
    settings: BridgeSettings
    clock: TestClock
    jobs: DynamoJobStore
    objects: S3ObjectStore
    poller: RecordingPollerStarter
    submission: SubmissionService
    tasks: TaskService
    keys: KeyService
    authenticator: Authenticator
    url_guard: UrlGuard
    keys_store: DynamoApiKeyStore
    runway_factory: Callable[[], RunwayClient]
    clients: list[RunwayClient] = field(default_factory=list)

    def creates(self) -> int:
        return self.emulator.counters().get("tasks_created", 0)


BridgeFactory = Callable[..., Bridge]


@pytest.fixture
def make_bridge(aws: Aws, emulator: RunwayEmulator) -> Iterator[BridgeFactory]:
    """Builds the services against moto and the emulator; `settings` overrides BridgeSettings."""
    built: list[Bridge] = []

    def build(*, resolver: Callable[[str], list[str]] | None = None, **overrides: Any) -> Bridge:
        options: dict[str, Any] = {
            "runway_base_url": emulator.base_url,
            "runway_api_key": emulator.api_key,
            "runway_connect_timeout_s": 1.0,
            "runway_read_timeout_s": 3.0,
            "jobs_table_name": aws.jobs_table,
            "api_keys_table_name": aws.keys_table,
            "bucket_name": aws.bucket,
            "event_bus_name": aws.bus,
            # Generous for a loaded machine (a submit's reads took 8 s once with other test runs
            # beside): a submit is sent, never left to the poller for lack of time, unless a test
            # asks for a short budget itself (tests/integration/submission/test_submit_deadline.py).
            "api_submit_budget_s": 30.0,
            # A moto write well within it is recorded, not handed off.
            "submit_record_budget_s": 3.0,
            "tenant_secret_prefix": f"test-{uuid.uuid4().hex[:8]}",
        }
        options.update(overrides)
        settings = BridgeSettings(**options)
        clock = TestClock()
        clients: list[RunwayClient] = []
        lock = threading.Lock()

        def runway_factory() -> RunwayClient:
            # One client per bridge, like the deployed CachedRunwayFactory; small backoffs.
            with lock:
                if not clients:
                    clients.append(
                        RunwayClient(
                            settings.runway_base_url,
                            settings.runway_api_key or "",
                            connect_timeout=settings.runway_connect_timeout_s,
                            read_timeout=settings.runway_read_timeout_s,
                            max_attempts=4,
                            backoff_base_s=0.02,
                            backoff_max_s=0.1,
                            min_create_window_s=0.2,
                        )
                    )
                return clients[0]

        jobs = DynamoJobStore(aws.dynamodb, aws.jobs_table, due_shards=settings.due_shards)
        objects = S3ObjectStore(aws.s3, aws.bucket)
        guard = UrlGuard(
            allow_http=settings.allow_http_callbacks,
            allow_private=settings.allow_private_callbacks,
            ports=None if settings.allow_any_callback_port else settings.callback_ports,
            resolver=resolver or (lambda host: ["93.184.216.34"]),
        )
        poller = RecordingPollerStarter()
        key_store = DynamoApiKeyStore(aws.dynamodb, aws.keys_table)
        poller_state = DynamoPollerState(aws.dynamodb, aws.jobs_table, due_shards=settings.due_shards)
        submission = SubmissionService(
            jobs=jobs,
            objects=objects,
            runway_factory=runway_factory,
            settings=settings,
            clock=clock,
            poller_starter=poller,
            check_callback_url=guard.check,
            rejections=EventBridgeRejectionPublisher(aws.events, aws.bus),
            tenants=key_store,
            capacity=poller_state,
            # s3:// inputs: only buckets a test allows (settings input_buckets) are looked at.
            input_objects=S3InputObjects(aws.s3),
            sleep=lambda seconds: None,
        )
        tasks = TaskService(
            jobs=jobs, objects=objects, runway_factory=runway_factory, settings=settings, clock=clock
        )
        keys = KeyService(
            keys=key_store,
            tenants=key_store,
            tenant_secrets=SecretsManagerTenantSecrets(aws.secretsmanager, settings),
            clock=clock,
        )
        bridge = Bridge(
            aws=aws,
            emulator=emulator,
            settings=settings,
            clock=clock,
            jobs=jobs,
            objects=objects,
            poller=poller,
            submission=submission,
            tasks=tasks,
            keys=keys,
            authenticator=Authenticator(key_store),
            url_guard=guard,
            keys_store=key_store,
            runway_factory=runway_factory,
            clients=clients,
        )
        built.append(bridge)
        return bridge

    yield build
    for bridge in built:
        for client in bridge.clients:
            client.close()


@pytest.fixture
def bridge(make_bridge: BridgeFactory) -> Bridge:
    return make_bridge()


TEXT_TO_VIDEO: dict[str, Any] = {"model": "gen4.5", "promptText": "a lighthouse at dusk", "ratio": "1280:720"}
IMAGE_TO_VIDEO: dict[str, Any] = {"model": "gen4_turbo", "promptImage": "https://example.com/a.png"}


def poller_of(bridge: Bridge) -> PollerService:
    """A poller over the bridge's table, emulator and clock, with a submission service of its own
    (so a test can wrap the API path's stores without touching the poller's)."""
    state = DynamoPollerState(
        bridge.aws.dynamodb, bridge.aws.jobs_table, due_shards=bridge.settings.due_shards
    )
    submission = SubmissionService(
        jobs=bridge.jobs,
        objects=bridge.objects,
        runway_factory=bridge.submission._runway_factory,
        settings=bridge.settings,
        clock=bridge.clock,
        poller_starter=RecordingPollerStarter(),
        check_callback_url=bridge.url_guard.check,
        rejections=EventBridgeRejectionPublisher(bridge.aws.events, bridge.aws.bus),
        tenants=bridge.keys_store,
        capacity=state,
        sleep=lambda seconds: None,
    )
    return PollerService(
        jobs=bridge.jobs,
        state=state,
        submission=submission,
        runway_factory=bridge.submission._runway_factory,
        settings=bridge.settings,
        clock=bridge.clock,
    )


def wait_for_runway_status(bridge: Bridge, task_id: str, wanted: str, timeout_s: float = 20.0) -> None:
    """Until the emulator reports the task in `wanted` (its own clock runs fast in these tests)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any(task["id"] == task_id and task["status"] == wanted for task in bridge.emulator.tasks()):
            return
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} never became {wanted}: {bridge.emulator.tasks()}")
