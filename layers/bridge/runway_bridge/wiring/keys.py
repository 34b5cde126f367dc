"""The key service, for `runway-bridge keys` (the operator's CLI): keys, limits, webhook secrets."""

from __future__ import annotations

from runway_bridge.logic.tenants.keys import KeyService
from runway_bridge.settings import BridgeSettings
from runway_bridge.wiring import parts
from runway_bridge.wiring.cache import utc_now


def build_key_service(settings: BridgeSettings) -> KeyService:
    keys = parts.key_store(settings)
    return KeyService(keys=keys, tenants=keys, tenant_secrets=parts.tenant_secrets(settings), clock=utc_now)
