"""The key service, for `runway-bridge keys` (the operator's CLI): keys, limits, output destinations
(checked by the copier function itself), webhook secrets."""

from __future__ import annotations

from runway_bridge.adapters.aws import aws_client
from runway_bridge.adapters.tenants.destination_check import LambdaDestinationChecker
from runway_bridge.logic.tenants.keys import KeyService
from runway_bridge.settings import BridgeSettings
from runway_bridge.wiring import parts
from runway_bridge.wiring.cache import utc_now


def build_key_service(settings: BridgeSettings) -> KeyService:
    keys = parts.key_store(settings)
    checker = None
    if settings.copy_function_name:
        checker = LambdaDestinationChecker(aws_client("lambda"), settings.copy_function_name)
    return KeyService(
        keys=keys,
        tenants=keys,
        tenant_secrets=parts.tenant_secrets(settings),
        clock=utc_now,
        destinations=checker,
    )
