"""The notification functions: the relay (publish_events: outbox and progress to every channel),
webhook delivery (deliver_webhook), and the webhook admin the API serves.

`channels` lists where notifications go; a new channel is an adapter implementing
`logic.ports.NotificationChannel` and one line there."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runway_bridge.adapters.aws import aws_client
from runway_bridge.adapters.jobs.store import DynamoJobStore
from runway_bridge.adapters.notifications.channels import (
    EventBridgeChannel,
    SnsChannel,
    WebhookQueueChannel,
)
from runway_bridge.adapters.notifications.webhook_queue import SqsWebhookDeadLetters, SqsWebhookQueue
from runway_bridge.adapters.notifications.webhook_sender import webhook_sender_from_settings
from runway_bridge.adapters.redelivery import SqsRedelivery
from runway_bridge.adapters.secrets import SecretsManagerTenantSecrets, link_key_provider
from runway_bridge.adapters.url_guard import UrlGuard
from runway_bridge.errors import StoreUnavailableError
from runway_bridge.logic.links import OutputLinkSigner
from runway_bridge.logic.notifications.admin import WebhookAdmin
from runway_bridge.logic.notifications.delivery import WebhookDelivery
from runway_bridge.logic.notifications.relay import NotificationRelay, PresignedOutputs
from runway_bridge.logic.ports import NotificationChannel
from runway_bridge.settings import BridgeSettings
from runway_bridge.wiring import parts
from runway_bridge.wiring.cache import SettingsKeyedCache, utc_now


def channels(settings: BridgeSettings) -> list[NotificationChannel]:
    """Every channel a notification is handed to, in this order (an unset resource: that channel
    is off). The relay and the deliverer (for `webhook.exhausted`) both use this list."""
    found: list[NotificationChannel] = []
    if settings.notifications_topic_arn:
        found.append(SnsChannel(aws_client("sns"), settings.notifications_topic_arn))
    if settings.event_bus_name:
        found.append(EventBridgeChannel(aws_client("events"), settings.event_bus_name))
    if queue := _queue(settings):
        found.append(WebhookQueueChannel(queue))
    return found


def _queue(settings: BridgeSettings) -> SqsWebhookQueue | None:
    if not settings.webhook_queue_url:
        return None
    return SqsWebhookQueue(aws_client("sqs"), settings.webhook_queue_url)


def _dead_letters(settings: BridgeSettings) -> SqsWebhookDeadLetters | None:
    if not (settings.webhook_queue_url and settings.webhook_dead_letter_queue_url):
        return None
    return SqsWebhookDeadLetters(
        aws_client("sqs"),
        queue_url=settings.webhook_queue_url,
        dead_letter_queue_url=settings.webhook_dead_letter_queue_url,
    )


def _links(settings: BridgeSettings) -> OutputLinkSigner | None:
    """The signer notifications use: they need the public base URL, which only the API itself can
    do without (it knows the address it was called at)."""
    if not settings.public_base_url:
        return None
    return api_links(settings)


def api_links(settings: BridgeSettings) -> OutputLinkSigner:
    """The signer the API checks stable links with and signs the task view's links with (under
    `public_base_url` when set, else the address of the request)."""
    return OutputLinkSigner(settings.public_base_url, link_key_provider(settings), settings.link_ttl_s)


def _relay(
    settings: BridgeSettings,
    *,
    jobs: DynamoJobStore,
    links: OutputLinkSigner | None,
    found_channels: list[NotificationChannel],
) -> NotificationRelay:
    objects = parts.object_store(settings)
    outputs = PresignedOutputs(
        objects=objects,
        clock=utc_now,
        url_ttl_s=settings.output_url_ttl_s,
        link_for=links.link_for if links else None,
    )
    return NotificationRelay(store=jobs, channels=found_channels, outputs=outputs, clock=utc_now)


def _delivery(
    settings: BridgeSettings,
    *,
    jobs: DynamoJobStore,
    secrets: SecretsManagerTenantSecrets,
    found_channels: list[NotificationChannel],
    relay: NotificationRelay,
) -> WebhookDelivery:
    return WebhookDelivery(
        jobs=jobs,
        attempts=jobs,
        secrets=secrets,
        sender=webhook_sender_from_settings(settings),
        channels=found_channels,
        dead_letters=_dead_letters(settings) or _NoDeadLetterQueue(),
        render=relay.render,
        schedule_s=[delay * settings.webhook_retry_scale for delay in settings.webhook_retry_schedule_s],
        clock=utc_now,
    )


def build_relay(settings: BridgeSettings) -> NotificationRelay:
    return _relay(
        settings, jobs=parts.jobs_store(settings), links=_links(settings), found_channels=channels(settings)
    )


@dataclass(frozen=True)
class Delivery:
    """What deliver_webhook uses: the deliverer, and the queue side that schedules its retries."""

    delivery: WebhookDelivery
    redelivery: SqsRedelivery


def build_delivery(settings: BridgeSettings) -> Delivery:
    jobs = parts.jobs_store(settings)
    found_channels = channels(settings)
    relay = _relay(settings, jobs=jobs, links=_links(settings), found_channels=found_channels)
    delivery = _delivery(
        settings,
        jobs=jobs,
        secrets=parts.tenant_secrets(settings),
        found_channels=found_channels,
        relay=relay,
    )
    return Delivery(delivery=delivery, redelivery=parts.redelivery())


def build_webhook_admin(settings: BridgeSettings) -> WebhookAdmin:
    """The admin and the deliverer it sends test events and redeliveries through share one secrets
    adapter (a rotation here signs this process's next delivery at once), one link signer and one
    jobs store."""
    jobs = parts.jobs_store(settings)
    objects = parts.object_store(settings)
    secrets = parts.tenant_secrets(settings)
    found_channels = channels(settings)
    relay = _relay(settings, jobs=jobs, links=_links(settings), found_channels=found_channels)
    return WebhookAdmin(
        jobs=jobs,
        events=jobs,
        queue=_queue(settings),
        redriver=(dead_letters := _dead_letters(settings)),
        dead_letters=dead_letters,
        secrets=secrets,
        delivery=_delivery(settings, jobs=jobs, secrets=secrets, found_channels=found_channels, relay=relay),
        check_url=UrlGuard.from_settings(settings).check,
        links=api_links(settings),
        presign=lambda s3_uri: objects.presigned_url(s3_uri, expires_in_s=settings.output_url_ttl_s),
        rotation_overlap_s=settings.webhook_rotation_overlap_s,
    )


class _NoDeadLetterQueue:
    def dead_letter(self, message: Any, *, reason: str) -> None:
        raise StoreUnavailableError(
            "no webhook dead-letter queue is configured (BRIDGE_WEBHOOK_DEAD_LETTER_QUEUE_URL)"
        )


get_relay = SettingsKeyedCache(build_relay)
get_delivery = SettingsKeyedCache(build_delivery)
