"""The copier function: the jobs table, Runway (a fresh output URL), the output source (httpx behind
the address guard) and S3 multipart (the bridge's bucket, and tenants' own buckets over the same
client). No API Gateway, EventBridge or SNS clients at cold start."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from runway_bridge.adapters.aws import aws_client
from runway_bridge.adapters.copy.outputs import HttpOutputSource, S3MultipartStore
from runway_bridge.adapters.redelivery import SqsRedelivery
from runway_bridge.logic.copy.job import CopyJobService
from runway_bridge.logic.copy.streaming import CopyPolicy
from runway_bridge.settings import BridgeSettings
from runway_bridge.wiring import parts
from runway_bridge.wiring.cache import SettingsKeyedCache, utc_now


@dataclass(frozen=True)
class Copier:
    """What copy_outputs uses: the copy service, and the queue side that schedules its retries."""

    service: CopyJobService
    redelivery: SqsRedelivery


def build_copy_job_service(settings: BridgeSettings) -> CopyJobService:
    s3 = aws_client("s3")

    @functools.cache
    def tenant_store(bucket: str) -> S3MultipartStore:
        return S3MultipartStore.for_tenant_bucket(s3, bucket)

    return CopyJobService(
        jobs=parts.jobs_store(settings),
        runway_factory=parts.runway_factory(settings),
        source=HttpOutputSource.from_settings(settings),
        store=S3MultipartStore.from_settings(s3, settings),
        policy=CopyPolicy.from_settings(settings),
        clock=utc_now,
        tenant_store=tenant_store,
        output_buckets=settings.output_buckets,
    )


def build_copier(settings: BridgeSettings) -> Copier:
    return Copier(service=build_copy_job_service(settings), redelivery=parts.redelivery())


get_copier = SettingsKeyedCache(build_copier)
