"""The one settings model of the deployed code. Read lazily (never at import time), cached per
process; tests call `get_settings.cache_clear()` after changing the environment."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class BridgeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BRIDGE_", extra="ignore")

    # Runway
    runway_base_url: str = "https://api.dev.runwayml.com"
    # Name of the Secrets Manager secret (or SSM parameter) holding the Runway API key.
    runway_secret_name: str = "runway-bridge/runway-api-key"
    # Only for local runs: a literal key that bypasses Secrets Manager.
    runway_api_key: str | None = Field(default=None, repr=False)
    runway_connect_timeout_s: float = 5.0
    runway_read_timeout_s: float = 20.0
    runway_max_attempts: int = 4
    # Forward models/fields the spec does not know instead of refusing them.
    passthrough: bool = False

    # Powertools Parameters cache for secrets
    secret_cache_seconds: int = 300


@lru_cache(maxsize=1)
def get_settings() -> BridgeSettings:
    return BridgeSettings()
