"""One process-wide, lazily built value per function kind, rebuilt when the settings object or
`AWS_ENDPOINT_URL` changed (tests clear `get_settings` after changing the environment)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Generic, TypeVar

from runway_bridge.settings import BridgeSettings, get_settings

T = TypeVar("T")

_every_cache: list[SettingsKeyedCache[object]] = []


def utc_now() -> datetime:
    """The services' clock: aware UTC."""
    return datetime.now(UTC)


class SettingsKeyedCache(Generic[T]):
    def __init__(self, build: Callable[[BridgeSettings], T]) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._cached: tuple[tuple[int, str | None], T] | None = None
        _every_cache.append(self)  # type: ignore[arg-type]

    def __call__(self) -> T:
        settings = get_settings()
        key = (id(settings), os.environ.get("AWS_ENDPOINT_URL"))
        with self._lock:
            if self._cached is None or self._cached[0] != key:
                self._cached = (key, self._build(settings))
            return self._cached[1]

    def cache_clear(self) -> None:
        with self._lock:
            self._cached = None


def clear_all() -> None:
    """Forget every function's services (the next call builds them from the current settings)."""
    for cache in _every_cache:
        cache.cache_clear()
