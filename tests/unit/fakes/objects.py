"""`FakeObjectStore`: request bodies, submit hand-offs and presigned links, in memory."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from runway_bridge.errors import StoreUnavailableError


class FakeObjectStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.bodies: dict[str, dict[str, Any]] = {}
        self.handoffs: dict[str, str] = {}
        self.deleted: list[str] = []
        self.handoff_fails = False

    def put_request_body(self, key: str, body: Mapping[str, Any]) -> None:
        with self._lock:
            self.bodies[key] = dict(body)

    def get_request_body(self, key: str) -> dict[str, Any]:
        with self._lock:
            return dict(self.bodies[key])

    def presigned_url(self, s3_uri: str, *, expires_in_s: int) -> str:
        return f"https://objects.test/{s3_uri.removeprefix('s3://')}?expires={expires_in_s}"

    def delete_objects(self, s3_uris_or_keys: list[str]) -> None:
        with self._lock:
            self.deleted.extend(s3_uris_or_keys)
            for key in s3_uris_or_keys:
                self.bodies.pop(key, None)

    def put_submit_handoff(self, job_id: str, runway_task_id: str) -> None:
        if self.handoff_fails:
            raise StoreUnavailableError("the bucket is unavailable (injected)")
        with self._lock:
            self.handoffs[job_id] = runway_task_id

    def get_submit_handoff(self, job_id: str) -> str | None:
        if self.handoff_fails:
            raise StoreUnavailableError("the bucket is unavailable (injected)")
        with self._lock:
            return self.handoffs.get(job_id)
