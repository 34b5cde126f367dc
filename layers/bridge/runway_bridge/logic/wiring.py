"""Builds the services with their deployed (boto3/httpx/DNS) adapters.

Handlers call `get_services()` inside the handler (never at import: cold starts stay lean and tests
can set the environment first). boto3 clients are created once per process and honour
`AWS_ENDPOINT_URL` (the local runtime points it at moto). Tests that change settings call
`get_services.cache_clear()` after `get_settings.cache_clear()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from runway_bridge.adapters.api_keys import ApiGatewayUsagePlans, DynamoApiKeyStore
from runway_bridge.adapters.aws import aws_client
from runway_bridge.adapters.events import EventBridgeRejectionPublisher
from runway_bridge.adapters.jobs_store import DynamoJobStore
from runway_bridge.adapters.object_store import S3ObjectStore
from runway_bridge.adapters.poller_state import DynamoPollerState, StepFunctionsPollerStarter
from runway_bridge.adapters.runway_factory import CachedRunwayFactory
from runway_bridge.adapters.secrets import SecretsManagerTenantSecrets, runway_api_key_provider
from runway_bridge.adapters.url_guard import UrlGuard
from runway_bridge.logic.keys import KeyService
from runway_bridge.logic.poller import PollerService
from runway_bridge.logic.ports import NoopPollerStarter, PollerStarter
from runway_bridge.logic.service_cache import SettingsKeyedCache
from runway_bridge.logic.submission import SubmissionService
from runway_bridge.logic.tasks import TaskService
from runway_bridge.settings import BridgeSettings


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Services:
    submission: SubmissionService
    tasks: TaskService
    keys: KeyService
    jobs: DynamoJobStore
    url_guard: UrlGuard
    poller: PollerService


def build_services(settings: BridgeSettings, *, poller_starter: PollerStarter | None = None) -> Services:
    """Every service wired to real adapters for `settings` (one set of boto3 clients)."""
    dynamodb = aws_client("dynamodb")
    jobs = DynamoJobStore(dynamodb, settings.jobs_table_name, due_shards=settings.due_shards)
    objects = S3ObjectStore(aws_client("s3"), settings.bucket_name)
    runway_factory = CachedRunwayFactory(runway_api_key_provider(settings), settings)
    url_guard = UrlGuard.from_settings(settings)
    poller_state = DynamoPollerState(dynamodb, settings.jobs_table_name, due_shards=settings.due_shards)
    if poller_starter is None and settings.poller_state_machine_arn:
        # Submit functions start a poller run when none is active (first poll without the tick).
        poller_starter = StepFunctionsPollerStarter(
            poller_state,
            aws_client("stepfunctions"),
            settings.poller_state_machine_arn,
            clock=lambda: utc_now().timestamp(),
            hold_s=settings.poller_run_hold_s,
        )
    key_store = DynamoApiKeyStore(dynamodb, settings.api_keys_table_name)
    submission = SubmissionService(
        jobs=jobs,
        objects=objects,
        runway_factory=runway_factory,
        settings=settings,
        clock=utc_now,
        poller_starter=poller_starter or NoopPollerStarter(),
        check_callback_url=url_guard.check,
        rejections=EventBridgeRejectionPublisher(aws_client("events"), settings.event_bus_name),
        tenants=key_store,
    )
    tasks = TaskService(
        jobs=jobs, objects=objects, runway_factory=runway_factory, settings=settings, clock=utc_now
    )
    keys = KeyService(
        keys=key_store,
        usage_plans=ApiGatewayUsagePlans(aws_client("apigateway"), settings.usage_plan_id),
        tenant_secrets=SecretsManagerTenantSecrets(aws_client("secretsmanager"), settings),
        clock=utc_now,
    )
    poller = PollerService(
        jobs=jobs,
        state=poller_state,
        submission=submission,
        runway_factory=runway_factory,
        settings=settings,
        clock=utc_now,
    )
    return Services(
        submission=submission, tasks=tasks, keys=keys, jobs=jobs, url_guard=url_guard, poller=poller
    )


# `get_services()`: the process's services (see logic/service_cache.py).
get_services = SettingsKeyedCache(build_services)
