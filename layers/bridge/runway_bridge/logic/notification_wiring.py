"""Builds the notification services (relay, webhook delivery, stable links) with their deployed
adapters. Same rules as `logic/wiring.py`: built on first use inside a handler, rebuilt when the
settings object or `AWS_ENDPOINT_URL` changed (tests clear `get_settings`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

from runway_bridge.adapters.aws import aws_client
from runway_bridge.adapters.jobs_store import DynamoJobStore
from runway_bridge.adapters.notify import SnsEventBridgePublisher
from runway_bridge.adapters.object_store import S3ObjectStore
from runway_bridge.adapters.secrets import SecretsManagerTenantSecrets
from runway_bridge.adapters.url_guard import UrlGuard
from runway_bridge.adapters.webhook_http import webhook_sender_from_settings
from runway_bridge.adapters.webhook_queue import SqsWebhookDeadLetters, SqsWebhookQueue
from runway_bridge.errors import StoreUnavailableError
from runway_bridge.logic.notifications import NotificationRelay, PresignedOutputs
from runway_bridge.logic.output_links import OutputLinkSigner
from runway_bridge.logic.service_cache import SettingsKeyedCache
from runway_bridge.logic.webhook_admin import WebhookAdmin
from runway_bridge.logic.webhooks import WebhookDelivery
from runway_bridge.settings import BridgeSettings


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class NotificationServices:
    jobs: DynamoJobStore
    relay: NotificationRelay
    delivery: WebhookDelivery
    queue: SqsWebhookQueue | None
    dead_letters: SqsWebhookDeadLetters | None
    links: OutputLinkSigner | None
    objects: S3ObjectStore
    admin: WebhookAdmin


def link_key_provider(settings: BridgeSettings) -> Any:
    provider = SecretsProvider(boto3_client=aws_client("secretsmanager"))
    name, max_age = settings.link_secret_name, settings.secret_cache_seconds

    def key() -> bytes:
        try:
            value = provider.get(name, max_age=max_age)
        except GetParameterError as exc:
            raise StoreUnavailableError(f"could not read the output link secret {name!r}") from exc
        return str(value).encode()

    return key


def build_notification_services(settings: BridgeSettings) -> NotificationServices:
    jobs = DynamoJobStore(aws_client("dynamodb"), settings.jobs_table_name, due_shards=settings.due_shards)
    objects = S3ObjectStore(aws_client("s3"), settings.bucket_name)
    publisher = SnsEventBridgePublisher(
        sns=aws_client("sns"),
        events=aws_client("events"),
        topic_arn=settings.notifications_topic_arn,
        bus_name=settings.event_bus_name,
    )
    queue = (
        SqsWebhookQueue(aws_client("sqs"), settings.webhook_queue_url) if settings.webhook_queue_url else None
    )
    dead_letters = None
    if settings.webhook_queue_url and settings.webhook_dead_letter_queue_url:
        dead_letters = SqsWebhookDeadLetters(
            aws_client("sqs"),
            queue_url=settings.webhook_queue_url,
            dead_letter_queue_url=settings.webhook_dead_letter_queue_url,
        )
    links = None
    if settings.public_base_url:
        links = OutputLinkSigner(settings.public_base_url, link_key_provider(settings), settings.link_ttl_s)
    outputs = PresignedOutputs(
        objects=objects,
        clock=utc_now,
        url_ttl_s=settings.output_url_ttl_s,
        link_for=links.link_for if links else None,
    )
    relay = NotificationRelay(store=jobs, publisher=publisher, webhooks=queue, outputs=outputs, clock=utc_now)
    secrets = SecretsManagerTenantSecrets(aws_client("secretsmanager"), settings)
    sender = webhook_sender_from_settings(settings)
    delivery = WebhookDelivery(
        jobs=jobs,
        attempts=jobs,
        secrets=secrets,
        sender=sender,
        publisher=publisher,
        dead_letters=dead_letters or _NoDeadLetterQueue(),
        render=relay.render,
        schedule_s=[delay * settings.webhook_retry_scale for delay in settings.webhook_retry_schedule_s],
        clock=utc_now,
    )
    admin = WebhookAdmin(
        jobs=jobs,
        events=jobs,
        queue=queue,
        redriver=dead_letters,
        secrets=secrets,
        delivery=delivery,
        check_url=UrlGuard.from_settings(settings).check,
        links=links,
        presign=lambda s3_uri: objects.presigned_url(s3_uri, expires_in_s=settings.output_url_ttl_s),
        rotation_overlap_s=settings.webhook_rotation_overlap_s,
    )
    return NotificationServices(
        admin=admin,
        jobs=jobs,
        relay=relay,
        delivery=delivery,
        queue=queue,
        dead_letters=dead_letters,
        links=links,
        objects=objects,
    )


class _NoDeadLetterQueue:
    def dead_letter(self, message: Any, *, reason: str) -> None:
        raise StoreUnavailableError(
            "no webhook dead-letter queue is configured (BRIDGE_WEBHOOK_DEAD_LETTER_QUEUE_URL)"
        )


get_notification_services = SettingsKeyedCache(build_notification_services)
