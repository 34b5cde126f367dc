"""The adapters and services several functions share, each built from the settings. boto3 clients
come from `adapters.aws.aws_client` (one per service and endpoint per process)."""

from __future__ import annotations

from runway_bridge.adapters.aws import aws_client, s3_presigner
from runway_bridge.adapters.jobs.store import DynamoJobStore
from runway_bridge.adapters.object_store import S3InputObjects, S3ObjectStore
from runway_bridge.adapters.poller.state import DynamoPollerState, StepFunctionsPollerStarter
from runway_bridge.adapters.redelivery import SqsRedelivery
from runway_bridge.adapters.runway.factory import CachedRunwayFactory
from runway_bridge.adapters.secrets import SecretsManagerTenantSecrets, runway_api_key_provider
from runway_bridge.adapters.submission.rejections import EventBridgeRejectionPublisher
from runway_bridge.adapters.tenants.api_keys import DynamoApiKeyStore
from runway_bridge.adapters.url_guard import UrlGuard
from runway_bridge.logic.ports import NoopPollerStarter, PollerStarter
from runway_bridge.logic.submission.service import SubmissionService
from runway_bridge.settings import BridgeSettings
from runway_bridge.wiring.cache import utc_now


def jobs_store(settings: BridgeSettings) -> DynamoJobStore:
    return DynamoJobStore(aws_client("dynamodb"), settings.jobs_table_name, due_shards=settings.due_shards)


def poller_state(settings: BridgeSettings) -> DynamoPollerState:
    return DynamoPollerState(aws_client("dynamodb"), settings.jobs_table_name, due_shards=settings.due_shards)


def object_store(settings: BridgeSettings) -> S3ObjectStore:
    return S3ObjectStore(aws_client("s3"), settings.bucket_name)


def runway_factory(settings: BridgeSettings) -> CachedRunwayFactory:
    return CachedRunwayFactory(runway_api_key_provider(settings), settings)


def key_store(settings: BridgeSettings) -> DynamoApiKeyStore:
    return DynamoApiKeyStore(aws_client("dynamodb"), settings.api_keys_table_name)


def tenant_secrets(settings: BridgeSettings) -> SecretsManagerTenantSecrets:
    return SecretsManagerTenantSecrets(aws_client("secretsmanager"), settings)


def redelivery() -> SqsRedelivery:
    return SqsRedelivery(aws_client("sqs"))


def poller_starter(settings: BridgeSettings, state: DynamoPollerState) -> PollerStarter:
    """Submit paths start a poller run when none is active (the first poll without the tick)."""
    if not settings.poller_state_machine_arn:
        return NoopPollerStarter()
    return StepFunctionsPollerStarter(
        state,
        aws_client("stepfunctions"),
        settings.poller_state_machine_arn,
        clock=lambda: utc_now().timestamp(),
        hold_s=settings.poller_run_hold_s,
    )


def submission_service(
    settings: BridgeSettings,
    *,
    jobs: DynamoJobStore,
    state: DynamoPollerState,
    runway: CachedRunwayFactory,
    starter: PollerStarter,
) -> SubmissionService:
    """The one at-most-once submitter, for the API, the bus and the poller's queue."""
    keys = key_store(settings)
    return SubmissionService(
        jobs=jobs,
        objects=object_store(settings),
        runway_factory=runway,
        settings=settings,
        clock=utc_now,
        poller_starter=starter,
        check_callback_url=UrlGuard.from_settings(settings).check,
        rejections=EventBridgeRejectionPublisher(aws_client("events"), settings.event_bus_name),
        tenants=keys,
        capacity=state,
        # s3:// inputs, in the buckets of settings.input_buckets only (the allow-list).
        input_objects=S3InputObjects(aws_client("s3"), presigner=s3_presigner),
    )
