"""`FakeObjectStore`: request bodies, submit hand-offs and presigned links, in memory; and
`FakeInputObjects`: the objects `s3://` inputs name."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from runway_bridge.errors import InputObjectForbiddenError, InputObjectMissingError, StoreUnavailableError
from runway_bridge.models.records import InputObject


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


class FakeInputObjects:
    """Objects `s3://` inputs name: `objects[(bucket, key)] = InputObject(...)`; a bucket in
    `forbidden` answers like S3 refusing the bridge's role. Records every look and presign."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], InputObject] = {}
        self.forbidden: set[str] = set()
        self.heads: list[tuple[str, str]] = []
        self.presigned: list[tuple[str, str, int]] = []
        self.reads: list[tuple[str, str]] = []

    def put(self, uri: str, *, size: int = 1000, content_type: str | None = "image/png") -> str:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        self.objects[(bucket, key)] = InputObject(size=size, content_type=content_type)
        return uri

    def read(self, bucket: str, key: str, *, max_bytes: int) -> tuple[bytes, InputObject]:
        found = self.head(bucket, key)
        if found.size > max_bytes:
            raise StoreUnavailableError(f"s3://{bucket}/{key} is over {max_bytes} bytes")
        self.reads.append((bucket, key))
        return b"\0" * found.size, found

    def head(self, bucket: str, key: str) -> InputObject:
        self.heads.append((bucket, key))
        if bucket in self.forbidden:
            raise InputObjectForbiddenError(f"s3://{bucket}/{key} cannot be read (AccessDenied)")
        found = self.objects.get((bucket, key))
        if found is None:
            raise InputObjectMissingError(f"s3://{bucket}/{key} does not exist")
        return found

    def presign_get(self, bucket: str, key: str, *, expires_in_s: int) -> str:
        self.presigned.append((bucket, key, expires_in_s))
        return f"https://{bucket}.s3.test/{key}?X-Amz-Expires={expires_in_s}"
