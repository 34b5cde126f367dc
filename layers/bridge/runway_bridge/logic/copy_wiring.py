"""Builds the copier's service with its deployed adapters (DynamoDB, S3 multipart, httpx, Runway).

Separate from `logic/wiring.py` so the copier function builds only what it uses (no API Gateway,
EventBridge or DNS clients at cold start). Same caching rule: built on first use inside the handler,
rebuilt when the settings object or `AWS_ENDPOINT_URL` changed (tests clear `get_settings`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from runway_bridge.adapters.aws import aws_client
from runway_bridge.adapters.jobs_store import DynamoJobStore
from runway_bridge.adapters.output_copy import HttpOutputSource, S3MultipartStore
from runway_bridge.adapters.runway_factory import CachedRunwayFactory
from runway_bridge.adapters.secrets import runway_api_key_provider
from runway_bridge.logic.copy_job import CopyJobService
from runway_bridge.logic.copy_outputs import CopyPolicy
from runway_bridge.logic.service_cache import SettingsKeyedCache
from runway_bridge.settings import BridgeSettings


def _utc_now() -> datetime:
    return datetime.now(UTC)


def build_copy_job_service(settings: BridgeSettings) -> CopyJobService:
    return CopyJobService(
        jobs=DynamoJobStore(aws_client("dynamodb"), settings.jobs_table_name, due_shards=settings.due_shards),
        runway_factory=CachedRunwayFactory(runway_api_key_provider(settings), settings),
        source=HttpOutputSource.from_settings(settings),
        store=S3MultipartStore.from_settings(aws_client("s3"), settings),
        policy=CopyPolicy.from_settings(settings),
        clock=_utc_now,
    )


get_copy_job_service = SettingsKeyedCache(build_copy_job_service)
