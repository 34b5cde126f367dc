"""A rotated webhook secret is used at once: the process that rotated serves and signs with it
immediately, another API process serves it immediately, and a deliverer in another process signs
with it within `webhook_secret_recheck_s` (not after a 5-minute cache). Secrets Manager in moto."""

from __future__ import annotations

import uuid

from runway_bridge.adapters.secrets import SecretsManagerTenantSecrets
from runway_bridge.settings import BridgeSettings
from tests.integration.conftest import Aws


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def process(aws: Aws, settings: BridgeSettings, clock: Clock) -> SecretsManagerTenantSecrets:
    """One Lambda process's view of the tenant secrets (its own caches)."""
    return SecretsManagerTenantSecrets(aws.secretsmanager, settings, monotonic=clock)


def test_a_rotation_is_served_and_signs_at_once_in_the_process_that_rotated(aws: Aws) -> None:
    settings = BridgeSettings(tenant_secret_prefix=f"test-{uuid.uuid4().hex[:8]}")
    api = process(aws, settings, Clock())
    first = api.ensure_webhook_secret("acme")
    assert api.webhook_secret("acme") == first
    assert api.signing_secrets("acme") == [first]

    rotated = api.rotate_webhook_secret("acme")

    assert api.webhook_secret("acme") == rotated
    assert api.signing_secrets("acme") == [rotated, first]  # the previous one signs during the overlap


def test_another_api_process_serves_the_rotated_secret_at_once(aws: Aws) -> None:
    settings = BridgeSettings(tenant_secret_prefix=f"test-{uuid.uuid4().hex[:8]}")
    rotating_api, other_api = (process(aws, settings, Clock()) for _ in range(2))
    first = rotating_api.ensure_webhook_secret("acme")
    assert other_api.webhook_secret("acme") == first  # looked at before the rotation

    rotated = rotating_api.rotate_webhook_secret("acme")

    assert other_api.webhook_secret("acme") == rotated


def test_a_deliverer_in_another_process_signs_with_the_rotated_secret_within_the_bound(aws: Aws) -> None:
    settings = BridgeSettings(tenant_secret_prefix=f"test-{uuid.uuid4().hex[:8]}")
    clock = Clock()
    api, deliverer = process(aws, settings, clock), process(aws, settings, clock)
    first = api.ensure_webhook_secret("acme")
    assert deliverer.signing_secrets("acme") == [first]

    rotated = api.rotate_webhook_secret("acme")
    clock.now += settings.webhook_secret_recheck_s + 0.001

    assert deliverer.signing_secrets("acme") == [rotated, first]
    assert settings.webhook_secret_recheck_s <= 10  # the bound docs/events.md promises
