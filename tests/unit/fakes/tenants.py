"""Bridge API keys with each tenant's limits and output destination (`ApiKeyStore` +
`TenantDirectory`), and the tenants' webhook signing secrets (`TenantSecrets`)."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import datetime

from runway_bridge.errors import StoreConditionFailedError
from runway_bridge.models.records import ApiKeyRecord
from runway_bridge.models.tenant import UNLIMITED, OutputDestination, TenantLimits, TenantProfile


class FakeApiKeyStore:
    def __init__(self) -> None:
        self.records: dict[str, ApiKeyRecord] = {}
        self.tenant_limits: dict[str, TenantLimits] = {}
        self.destinations: dict[str, OutputDestination] = {}
        self.profile_reads = 0

    # --- ApiKeyStore -------------------------------------------------------------------------

    def put(self, record: ApiKeyRecord) -> None:
        if record.key_hash in self.records:
            raise StoreConditionFailedError("the key exists")
        self.records[record.key_hash] = record

    def get(self, key_hash: str) -> ApiKeyRecord | None:
        return self.records.get(key_hash)

    def revoke(self, key_hash: str, *, at: datetime) -> ApiKeyRecord | None:
        record = self.records.get(key_hash)
        if record is None:
            return None
        if record.revoked_at is None:  # the first revocation time stays
            record = replace(record, revoked_at=at)
            self.records[key_hash] = record
        return record

    def list_for_tenant(self, tenant_id: str) -> list[ApiKeyRecord]:
        return sorted(
            (record for record in self.records.values() if record.tenant_id == tenant_id),
            key=lambda record: record.created_at,
        )

    # --- TenantDirectory ---------------------------------------------------------------------

    def tenant_active(self, tenant_id: str) -> bool:
        return any(
            record.tenant_id == tenant_id and record.revoked_at is None for record in self.records.values()
        )

    def limits(self, tenant_id: str) -> TenantLimits:
        return self.tenant_limits.get(tenant_id, UNLIMITED)

    def set_limits(self, tenant_id: str, limits: TenantLimits) -> None:
        self.tenant_limits[tenant_id] = limits

    def profile(self, tenant_id: str) -> TenantProfile:
        self.profile_reads += 1
        return TenantProfile(
            limits=self.limits(tenant_id), output_destination=self.destinations.get(tenant_id)
        )

    def set_output_destination(self, tenant_id: str, destination: OutputDestination | None) -> None:
        if destination is None:
            self.destinations.pop(tenant_id, None)
        else:
            self.destinations[tenant_id] = destination


class FakeTenantSecrets:
    """One current secret per tenant and, after a rotation, the previous one (no overlap expiry)."""

    def __init__(self) -> None:
        self._numbers = itertools.count(1)
        self.secrets: dict[str, list[str]] = {}

    def _new(self) -> str:
        return f"whsec_test{next(self._numbers):04d}"

    def ensure_webhook_secret(self, tenant_id: str) -> str | None:
        if tenant_id in self.secrets:
            return None
        secret = self._new()
        self.secrets[tenant_id] = [secret]
        return secret

    def webhook_secret(self, tenant_id: str) -> str:
        return self.secrets[tenant_id][0]

    def signing_secrets(self, tenant_id: str) -> list[str]:
        return list(self.secrets[tenant_id][:2])

    def rotate_webhook_secret(self, tenant_id: str) -> str:
        secret = self._new()
        self.secrets[tenant_id] = [secret, *self.secrets.get(tenant_id, [])[:1]]
        return secret
