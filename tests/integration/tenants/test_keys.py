"""API keys: stored hashed, tenants, revocation, usage-plan keys and webhook secrets (moto)."""

from __future__ import annotations

import pytest

from runway_bridge.errors import InvalidRequestError, NotFoundError
from runway_bridge.logic.tenants.keys import hash_key
from runway_bridge.models.tenant import TenantLimits
from tests.integration.conftest import Bridge


def test_a_created_key_authenticates_as_its_tenant_and_is_stored_only_hashed(bridge: Bridge) -> None:
    created = bridge.keys.create_key("ci", tenant_id="acme")

    tenant = bridge.authenticator.authenticate(created.api_key)
    assert tenant is not None
    assert tenant.tenant_id == "acme"
    assert tenant.key_id == hash_key(created.api_key)
    stored = str(bridge.aws.scan(bridge.aws.keys_table))
    assert created.api_key not in stored
    assert hash_key(created.api_key) in stored


def test_unknown_malformed_and_missing_keys_do_not_authenticate(bridge: Bridge) -> None:
    created = bridge.keys.create_key("ci")
    for candidate in (None, "", created.api_key + "x", created.api_key[4:], "rwb_" + "a" * 500):
        assert bridge.authenticator.authenticate(candidate) is None


def test_a_new_tenant_gets_a_webhook_secret_once(bridge: Bridge) -> None:
    first = bridge.keys.create_key("first")
    second = bridge.keys.create_key("second", tenant_id=first.tenant_id)

    assert first.tenant_id.startswith("tnt_")
    assert first.webhook_secret is not None
    assert first.webhook_secret.startswith("whsec_")
    assert second.webhook_secret is None  # the tenant keeps its secret
    secret_name = f"{bridge.settings.tenant_secret_prefix}/{first.tenant_id}/webhook-secret"
    stored = bridge.aws.secretsmanager.get_secret_value(SecretId=secret_name)["SecretString"]
    assert stored == first.webhook_secret

    tenant = bridge.authenticator.authenticate(first.api_key)
    assert tenant is not None
    assert tenant.tenant_id == first.tenant_id
    assert len(bridge.keys.list_keys(first.tenant_id)) == 2


def test_a_revoked_key_stops_authenticating(bridge: Bridge) -> None:
    kept = bridge.keys.create_key("kept", tenant_id="acme")
    revoked = bridge.keys.create_key("revoked", tenant_id="acme")

    record = bridge.keys.revoke_key(revoked.key_id)  # by key id; the key itself works too

    assert record.revoked_at is not None
    assert bridge.authenticator.authenticate(revoked.api_key) is None
    assert bridge.authenticator.authenticate(kept.api_key) is not None
    assert bridge.keys.revoke_key(revoked.api_key).revoked_at == record.revoked_at
    with pytest.raises(NotFoundError):
        bridge.keys.revoke_key("rwb_never-issued")


def test_limits_are_kept_with_the_tenant_and_changed_one_at_a_time(bridge: Bridge) -> None:
    created = bridge.keys.create_key("ci", tenant_id="acme", limits=TenantLimits(max_in_flight=3))
    assert created.limits.max_in_flight == 3
    second = bridge.keys.create_key("laptop", tenant_id="acme")  # no limits given: kept
    assert second.limits.max_in_flight == 3

    updated = bridge.keys.update_limits("acme", {"max_jobs_per_day": 100, "max_credits_per_day": 12.5})
    assert updated == TenantLimits(max_in_flight=3, max_jobs_per_day=100, max_credits_per_day=12.5)
    assert bridge.keys.limits("acme") == updated
    assert bridge.keys.update_limits("acme", {"max_in_flight": None}).max_in_flight is None
    assert bridge.keys.limits("other") == TenantLimits()  # unlimited unless set
    with pytest.raises(InvalidRequestError):
        bridge.keys.update_limits("acme", {"max_in_flight": 0})
    # The tenant record does not count as one of its keys.
    assert len(bridge.keys.list_keys("acme")) == 2
