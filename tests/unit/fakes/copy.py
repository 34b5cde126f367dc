"""The copy's two sides in memory: output URLs to download (`FakeOutputSource`) and the bucket's
multipart uploads (`FakeMultipartStore`)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any

from runway_bridge.errors import ObjectStoreError, OutputCopyError


@dataclass
class FakeDownload:
    body: bytes
    content_type: str | None = "video/mp4"

    def chunks(self) -> Iterator[bytes]:
        yield self.body


class FakeOutputSource:
    """URL -> a list of answers used in order (the last repeats): bytes, or an `OutputCopyError`."""

    def __init__(self) -> None:
        self.answers: dict[str, list[bytes | OutputCopyError]] = {}
        self.opened: list[str] = []

    def open(self, url: str) -> AbstractContextManager[FakeDownload]:
        self.opened.append(url)
        script = self.answers[url]
        answer = script.pop(0) if len(script) > 1 else script[0]
        if isinstance(answer, OutputCopyError):
            raise answer
        return _opened(FakeDownload(answer))


@contextmanager
def _opened(download: FakeDownload) -> Iterator[FakeDownload]:
    yield download


@dataclass
class StoredObject:
    size: int
    content_type: str | None
    metadata: Mapping[str, str]
    tags: dict[str, str] = field(default_factory=dict)


class FakeMultipartStore:
    def __init__(self, bucket: str = "artifacts") -> None:
        self.bucket = bucket
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.objects: dict[str, StoredObject] = {}
        self.bodies: dict[str, bytes] = {}
        self.uploads: dict[str, tuple[str, str, Mapping[str, str], dict[int, bytes]]] = {}
        self.aborted: list[str] = []
        self.region_error: ObjectStoreError | None = None  # what check_region raises, if anything

    def s3_uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def check_region(self) -> None:
        if self.region_error is not None:
            raise self.region_error

    def find(self, key: str) -> StoredObject | None:
        return self.objects.get(key)

    def abort_unfinished(self, key: str) -> int:
        with self._lock:
            stale = [upload_id for upload_id, (k, *_) in self.uploads.items() if k.startswith(key)]
            for upload_id in stale:
                del self.uploads[upload_id]
                self.aborted.append(upload_id)
        return len(stale)

    def start(self, key: str, *, content_type: str, metadata: Mapping[str, str]) -> str:
        upload_id = f"upload-{next(self._ids)}"
        with self._lock:
            self.uploads[upload_id] = (key, content_type, dict(metadata), {})
        return upload_id

    def list_keys(self, prefix: str) -> list[str]:
        return sorted(key for key in self.objects if key.startswith(prefix))

    def upload_part(self, key: str, upload_id: str, number: int, body: bytes, checksum_sha256: str) -> Any:
        with self._lock:
            self.uploads[upload_id][3][number] = body
        return {"PartNumber": number}

    def complete(self, key: str, upload_id: str, parts: list[Any]) -> None:
        with self._lock:
            _, content_type, metadata, received = self.uploads.pop(upload_id)
            body = b"".join(received[part["PartNumber"]] for part in parts)
            self.objects[key] = StoredObject(size=len(body), content_type=content_type, metadata=metadata)
            self.bodies[key] = body

    def abort(self, key: str, upload_id: str) -> None:
        with self._lock:
            self.uploads.pop(upload_id, None)
            self.aborted.append(upload_id)

    def tag(self, key: str, tags: Mapping[str, str]) -> None:
        with self._lock:
            self.objects[key].tags.update(tags)
