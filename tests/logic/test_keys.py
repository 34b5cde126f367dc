"""API keys: stored hashed, tenants, revocation, usage-plan keys and webhook secrets (moto)."""

from __future__ import annotations

import pytest

from runway_bridge.errors import NotFoundError
from runway_bridge.logic.keys import hash_key
from tests.logic.conftest import Bridge, BridgeFactory


def test_a_created_key_authenticates_as_its_tenant_and_is_stored_only_hashed(bridge: Bridge) -> None:
    created = bridge.keys.create_key("ci", tenant_id="acme")

    tenant = bridge.keys.authenticate(created.api_key)
    assert tenant is not None
    assert tenant.tenant_id == "acme"
    assert tenant.key_id == hash_key(created.api_key)
    stored = str(bridge.aws.scan(bridge.aws.keys_table))
    assert created.api_key not in stored
    assert hash_key(created.api_key) in stored


def test_unknown_malformed_and_missing_keys_do_not_authenticate(bridge: Bridge) -> None:
    created = bridge.keys.create_key("ci")
    for candidate in (None, "", created.api_key + "x", created.api_key[4:], "rwb_" + "a" * 500):
        assert bridge.keys.authenticate(candidate) is None


def test_a_new_tenant_gets_a_webhook_secret_once_and_a_usage_plan_key_per_api_key(bridge: Bridge) -> None:
    first = bridge.keys.create_key("first")
    second = bridge.keys.create_key("second", tenant_id=first.tenant_id)

    assert first.tenant_id.startswith("tnt_")
    assert first.webhook_secret is not None
    assert first.webhook_secret.startswith("whsec_")
    assert second.webhook_secret is None  # the tenant keeps its secret
    secret_name = f"{bridge.settings.tenant_secret_prefix}/{first.tenant_id}/webhook-secret"
    stored = bridge.aws.secretsmanager.get_secret_value(SecretId=secret_name)["SecretString"]
    assert stored == first.webhook_secret

    tenant = bridge.keys.authenticate(first.api_key)
    assert tenant is not None
    assert tenant.usage_identifier_key is not None
    assert tenant.usage_identifier_key != first.api_key  # the bridge key never goes to API Gateway
    plan_keys = bridge.aws.apigateway.get_usage_plan_keys(usagePlanId=bridge.aws.usage_plan_id)["items"]
    values = {key["value"] for key in plan_keys}
    assert tenant.usage_identifier_key in values
    assert first.api_key not in values
    assert len(bridge.keys.list_keys(first.tenant_id)) == 2


def test_a_revoked_key_stops_authenticating_and_its_usage_plan_key_is_disabled(bridge: Bridge) -> None:
    kept = bridge.keys.create_key("kept", tenant_id="acme")
    revoked = bridge.keys.create_key("revoked", tenant_id="acme")

    record = bridge.keys.revoke_key(revoked.key_id)  # by key id; the key itself works too

    assert record.revoked_at is not None
    assert bridge.keys.authenticate(revoked.api_key) is None
    assert bridge.keys.authenticate(kept.api_key) is not None
    assert record.usage_key_id is not None
    assert bridge.aws.apigateway.get_api_key(apiKey=record.usage_key_id)["enabled"] is False
    assert bridge.keys.revoke_key(revoked.api_key).revoked_at == record.revoked_at
    with pytest.raises(NotFoundError):
        bridge.keys.revoke_key("rwb_never-issued")


def test_keys_work_without_a_usage_plan(make_bridge: BridgeFactory) -> None:
    bridge = make_bridge(usage_plan_id=None)
    created = bridge.keys.create_key("iam-deployment")
    tenant = bridge.keys.authenticate(created.api_key)
    assert tenant is not None
    assert tenant.usage_identifier_key is None
