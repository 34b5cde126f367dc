"""One process-wide, lazily built service per function kind (API, copier, notifications).

Built on first use inside a handler (never at import: cold starts stay lean and tests set the
environment first), and rebuilt when the settings object or `AWS_ENDPOINT_URL` changed (tests clear
`get_settings` after changing the environment). `cache_clear()` forces a rebuild.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from runway_bridge.settings import BridgeSettings, get_settings

T = TypeVar("T")


class SettingsKeyedCache(Generic[T]):
    def __init__(self, build: Callable[[BridgeSettings], T]) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._cached: tuple[tuple[int, str | None], T] | None = None

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
