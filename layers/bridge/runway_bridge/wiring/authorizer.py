"""The authorizer checks one key against the keys table: that table and nothing else."""

from __future__ import annotations

from runway_bridge.logic.tenants.keys import Authenticator
from runway_bridge.settings import BridgeSettings
from runway_bridge.wiring import parts
from runway_bridge.wiring.cache import SettingsKeyedCache


def build_authenticator(settings: BridgeSettings) -> Authenticator:
    return Authenticator(parts.key_store(settings))


get_authenticator = SettingsKeyedCache(build_authenticator)
