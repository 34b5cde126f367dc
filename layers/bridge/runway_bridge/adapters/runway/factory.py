"""The process's RunwayClient, built with the Runway key from Secrets Manager (cached by
Powertools Parameters). A rotated key builds a new client; the old one's pools are closed."""

from __future__ import annotations

import threading
from collections.abc import Callable

from runway_bridge.adapters.runway.client import RunwayClient
from runway_bridge.settings import BridgeSettings


class CachedRunwayFactory:
    def __init__(self, api_key: Callable[[], str], settings: BridgeSettings) -> None:
        self._api_key = api_key
        self._settings = settings
        self._lock = threading.Lock()
        self._client: RunwayClient | None = None
        self._client_key: str | None = None

    def __call__(self) -> RunwayClient:
        key = self._api_key()
        with self._lock:
            if self._client is None or self._client_key != key:
                if self._client is not None:
                    self._client.close()
                self._client = RunwayClient(
                    self._settings.runway_base_url,
                    key,
                    connect_timeout=self._settings.runway_connect_timeout_s,
                    read_timeout=self._settings.runway_read_timeout_s,
                    max_attempts=self._settings.runway_max_attempts,
                )
                self._client_key = key
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
