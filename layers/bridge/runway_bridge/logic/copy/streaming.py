"""Copy every output of one finished Runway task into S3, streaming, hashing as it flows.

Keys are deterministic (`outputs/<jobId>/<index>.<ext>`, the extension from the response's content
type, behind the tenant's prefix when its outputs go to its own bucket), so a rerun finds its own
work:
- an object at that key whose `sha256`/`size` tags are set (the last step of a copy) and agree with
  what the job recorded (or, when the job recorded nothing, that came from the same task) is kept as
  it is: no download, no upload;
- a multipart upload still open for that key (a copy that died mid-way) is aborted, then the output
  is copied again from byte 0.

Memory stays flat: about three parts are held at most (one filling, one uploading, one waiting),
whatever the output's size.

Why the SHA-256 goes into tags, not user metadata: metadata is fixed when the multipart upload starts,
before a single byte is hashed, and changing it afterwards means a server-side copy of the whole
object. Tags can be set after completion for one cheap request. What is known up front (task id, job
id, output index) is user metadata.

Concurrency: two copies of the same job at once (a duplicated queue message) abort each other's open
upload; the loser fails with ObjectStoreError and its redelivery finds the finished object.
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from runway_bridge.errors import ObjectStoreError, OutputExpiredError, OutputFetchError
from runway_bridge.models.job import JobOutput
from runway_bridge.settings import BridgeSettings

MIB: Final = 1024 * 1024
# S3: every part but the last is at least 5 MiB; at most 10,000 parts per upload.
MIN_PART_BYTES: Final = 5 * MIB
MAX_PARTS: Final = 10_000
DEFAULT_CONTENT_TYPE: Final = "application/octet-stream"
SHA256_TAG: Final = "sha256"
SIZE_TAG: Final = "size"

# Extensions of the media types Runway produces; others fall back to the stdlib's table, then "bin".
EXTENSIONS: Final[Mapping[str, str]] = {
    "video/mp4": "mp4",
    "video/quicktime": "mov",
    "video/webm": "webm",
    "audio/wav": "wav",
    "audio/wave": "wav",
    "audio/x-wav": "wav",
    "audio/vnd.wave": "wav",
    "audio/mpeg": "mp3",
    "audio/mp4": "m4a",
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/webp": "webp",
    "image/gif": "gif",
    "application/octet-stream": "bin",
}
_SAFE_EXTENSION = re.compile(r"[a-z0-9]{1,8}")
_SAFE_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")

# Jitter only spreads retries in time; it protects nothing, so the non-crypto generator is right.
_jitter = random.Random()  # noqa: S311


# --- what the copy needs from its adapters (runway_bridge.adapters.copy.outputs implements them) ---


class Download(Protocol):
    @property
    def content_type(self) -> str | None: ...

    def chunks(self) -> Iterator[bytes]: ...


class OutputSource(Protocol):
    def open(self, url: str) -> AbstractContextManager[Download]: ...


class StoredObjectView(Protocol):
    @property
    def size(self) -> int: ...
    @property
    def content_type(self) -> str | None: ...
    @property
    def metadata(self) -> Mapping[str, str]: ...
    @property
    def tags(self) -> Mapping[str, str]: ...


class MultipartStore(Protocol):
    def s3_uri(self, key: str) -> str: ...
    def check_region(self) -> None: ...  # ObjectStoreError unless the bucket is in the bridge's region
    def find(self, key: str) -> StoredObjectView | None: ...
    def abort_unfinished(self, key: str) -> int: ...
    def start(self, key: str, *, content_type: str, metadata: Mapping[str, str]) -> str: ...
    def list_keys(self, prefix: str) -> list[str]: ...
    # Parts are the adapter's own receipts (number, ETag, checksum); the copy only collects them.
    def upload_part(
        self, key: str, upload_id: str, number: int, body: bytes, checksum_sha256: str
    ) -> Any: ...
    def complete(self, key: str, upload_id: str, parts: list[Any]) -> None: ...
    def abort(self, key: str, upload_id: str) -> None: ...
    def tag(self, key: str, tags: Mapping[str, str]) -> None: ...


@dataclass(frozen=True)
class CopyPolicy:
    part_bytes: int = 8 * MIB
    # Attempts per output for transient download failures (connection, timeout, 5xx, cut body).
    max_fetch_attempts: int = 3
    # Fresh task GETs per output after 403/404 from its URL.
    max_url_refreshes: int = 2
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 8.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    # Called after each uploaded part with its number; lets tests stop a copy mid-way.
    after_part: Callable[[int], None] | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: BridgeSettings) -> CopyPolicy:
        return cls(
            part_bytes=settings.copy_part_bytes,
            max_fetch_attempts=settings.copy_max_fetch_attempts,
            max_url_refreshes=settings.copy_max_url_refreshes,
        )

    def __post_init__(self) -> None:
        if self.part_bytes < MIN_PART_BYTES:
            raise ValueError(f"part_bytes must be at least {MIN_PART_BYTES} (S3's minimum part size)")
        if self.max_fetch_attempts < 1 or self.max_url_refreshes < 0:
            raise ValueError("max_fetch_attempts must be >= 1 and max_url_refreshes >= 0")


def output_key_stem(job_id: str, index: int, prefix: str = "") -> str:
    """`<prefix>outputs/<jobId>/<index>`: the key without its extension (`prefix`: a tenant's
    destination prefix, empty or ending with "/")."""
    if not _SAFE_ID.fullmatch(job_id):
        raise ValueError(f"job id {job_id!r} is not safe in an S3 key")
    return f"{prefix}outputs/{job_id}/{index}"


def extension_for(content_type: str) -> str:
    media_type = content_type.split(";", 1)[0].strip().lower()
    extension = EXTENSIONS.get(media_type)
    if extension is None:
        guessed = mimetypes.guess_extension(media_type) or ""
        extension = guessed.lstrip(".").lower()
    return extension if _SAFE_EXTENSION.fullmatch(extension) else "bin"


def copy_task_outputs(
    *,
    job_id: str,
    task_id: str,
    output_urls: Sequence[str],
    refresh_urls: Callable[[], Sequence[str]],
    source: OutputSource,
    store: MultipartStore,
    recorded: Sequence[JobOutput] = (),
    policy: CopyPolicy | None = None,
    first_attempt: bool = False,
    key_prefix: str = "",
) -> list[JobOutput]:
    """Copy each output URL of `task_id` to `<key_prefix>outputs/<job_id>/<index>.<ext>`; return one
    JobOutput per output, in order. `refresh_urls()` GETs the task again and returns its fresh output URLs
    (called when a URL answers 403/404). `recorded` are outputs the job already holds: an object
    that matches them is not copied again. `first_attempt`: no copy of this job can have run
    before, so the bucket is not searched for one that finished or died part-way (two listings
    saved per job; the bucket's lifecycle rule aborts an upload left open anyway).

    Raises OutputExpiredError (still expired after the allowed refreshes), OutputFetchError (not
    retryable, or out of attempts), ObjectStoreError (S3 failed after botocore's retries).
    """
    copier = _TaskCopier(
        job_id=job_id,
        task_id=task_id,
        urls=list(output_urls),
        refresh_urls=refresh_urls,
        source=source,
        store=store,
        policy=policy or CopyPolicy(),
        first_attempt=first_attempt,
        key_prefix=key_prefix,
    )
    recorded_by_index = {output.index: output for output in recorded}
    return [copier.copy(index, recorded_by_index.get(index)) for index in range(len(copier.urls))]


@dataclass
class _TaskCopier:
    job_id: str
    task_id: str
    urls: list[str]
    refresh_urls: Callable[[], Sequence[str]]
    source: OutputSource
    store: MultipartStore
    policy: CopyPolicy
    first_attempt: bool = False
    key_prefix: str = ""

    def copy(self, index: int, recorded: JobOutput | None) -> JobOutput:
        stem = output_key_stem(self.job_id, index, self.key_prefix)
        if recorded is not None:
            kept = self._verified(index, recorded)
        else:
            kept = None if self.first_attempt else self._finished_earlier(index, stem)
        if kept is not None:
            return kept
        if not self.first_attempt:
            # A copy that died mid-way left its upload open: abort it so it neither costs storage
            # nor races the copy below.
            self.store.abort_unfinished(stem + ".")
        fetch_failures = 0
        refreshes = 0
        while True:
            try:
                return self._stream(index, stem, self.urls[index])
            except OutputExpiredError:
                if refreshes >= self.policy.max_url_refreshes:
                    raise
                refreshes += 1
                self._refresh()
            except OutputFetchError as exc:
                fetch_failures += 1
                if not exc.retryable or fetch_failures >= self.policy.max_fetch_attempts:
                    raise
                ceiling = min(
                    self.policy.backoff_cap_s, self.policy.backoff_base_s * 2 ** (fetch_failures - 1)
                )
                self.policy.sleep(_jitter.uniform(0.0, ceiling))

    def _verified(self, index: int, recorded: JobOutput) -> JobOutput | None:
        """The recorded output if S3 holds exactly it (finished, same hash and size), else None."""
        key = recorded.s3_uri.split("/", 3)[-1] if recorded.s3_uri.startswith("s3://") else ""
        if not key.startswith(output_key_stem(self.job_id, index, self.key_prefix) + ".") or (
            self.store.s3_uri(key) != recorded.s3_uri
        ):
            return None
        stored = self.store.find(key)
        if stored is None or not _finished(stored):
            return None
        if stored.tags[SHA256_TAG] != recorded.sha256 or stored.size != recorded.size:
            return None
        return JobOutput(
            index=index,
            s3_uri=self.store.s3_uri(key),
            sha256=recorded.sha256,
            content_type=stored.content_type or recorded.content_type,
            size=stored.size,
        )

    def _finished_earlier(self, index: int, stem: str) -> JobOutput | None:
        """A finished copy of this task's output the job never recorded (the copier stopped between
        tagging the object and the job write): reused instead of downloaded again."""
        for key in self.store.list_keys(stem + "."):
            stored = self.store.find(key)
            if (
                stored is None
                or not _finished(stored)
                or stored.metadata.get("source-task-id") != self.task_id
            ):
                continue
            return JobOutput(
                index=index,
                s3_uri=self.store.s3_uri(key),
                sha256=stored.tags[SHA256_TAG],
                content_type=stored.content_type or DEFAULT_CONTENT_TYPE,
                size=stored.size,
            )
        return None

    def _refresh(self) -> None:
        fresh = list(self.refresh_urls())
        if len(fresh) != len(self.urls):
            raise OutputFetchError(
                f"the task now lists {len(fresh)} outputs instead of {len(self.urls)}", retryable=False
            )
        self.urls = fresh

    def _stream(self, index: int, stem: str, url: str) -> JobOutput:
        with self.source.open(url) as download:
            content_type = (download.content_type or DEFAULT_CONTENT_TYPE).strip() or DEFAULT_CONTENT_TYPE
            key = f"{stem}.{extension_for(content_type)}"
            metadata = {"source-task-id": self.task_id, "job-id": self.job_id, "output-index": str(index)}
            upload_id = self.store.start(key, content_type=content_type, metadata=metadata)
            try:
                sha256_hex, size = self._upload_parts(key, upload_id, download.chunks())
            except Exception:
                # A clean restart: nothing half-written stays behind. (A killed process cannot get
                # here; the next attempt's abort_unfinished cleans up after it.)
                with suppress(ObjectStoreError):
                    self.store.abort(key, upload_id)
                raise
        # Tagged last: an object without these tags is an unfinished copy and is redone.
        self.store.tag(key, {SHA256_TAG: sha256_hex, SIZE_TAG: str(size)})
        return JobOutput(
            index=index,
            s3_uri=self.store.s3_uri(key),
            sha256=sha256_hex,
            content_type=content_type,
            size=size,
        )

    def _upload_parts(self, key: str, upload_id: str, chunks: Iterator[bytes]) -> tuple[str, int]:
        """Cut the stream into parts and upload them. One part uploads on a worker thread while the
        next one downloads (the two legs overlap, nearly doubling throughput); at most one upload
        is in flight, so memory stays at about three parts whatever the size."""
        part_bytes = self.policy.part_bytes
        whole = hashlib.sha256()
        buffer = bytearray()
        parts: list[Any] = []
        size = 0
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="part-upload") as uploader:
            in_flight: Future[Any] | None = None
            number = 0

            def send(body: bytes) -> Future[Any]:
                nonlocal number
                number += 1
                if in_flight is not None:
                    parts.append(in_flight.result())  # re-raises that part's failure here
                return uploader.submit(self._send_part, key, upload_id, number, body)

            for chunk in chunks:
                whole.update(chunk)
                size += len(chunk)
                buffer += chunk
                while len(buffer) >= part_bytes:
                    with memoryview(buffer) as view:
                        body = bytes(view[:part_bytes])
                    del buffer[:part_bytes]
                    in_flight = send(body)
            if buffer or number == 0:  # the last (possibly short, possibly empty) part
                in_flight = send(bytes(buffer))
            if in_flight is not None:
                parts.append(in_flight.result())
        self.store.complete(key, upload_id, parts)
        return whole.hexdigest(), size

    def _send_part(self, key: str, upload_id: str, number: int, body: bytes) -> Any:
        if number > MAX_PARTS:
            raise OutputFetchError(f"the output needs more than {MAX_PARTS} parts", retryable=False)
        checksum = base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")
        part = self.store.upload_part(key, upload_id, number, body, checksum)
        if self.policy.after_part is not None:
            self.policy.after_part(number)
        return part


# The object a write check leaves under a destination's prefix (a few bytes, rewritten by each check).
WRITE_CHECK_KEY: Final = "runway-bridge-write-check"
_WRITE_CHECK_BODY: Final = b"runway-bridge checks it can write here; safe to delete.\n"


def check_writable(store: MultipartStore, prefix: str) -> str:
    """Check the bucket is in the bridge's region (output URLs are presigned there), then run every
    S3 call a copy makes, on one small object under `prefix`: list open uploads, start an upload,
    send a part with its SHA-256 checksum, complete it, tag it, read it and its tags back, list the
    prefix. Returns the check object's S3 URI; raises ObjectStoreError at the first call refused
    (so the caller learns what the copier could not do)."""
    store.check_region()
    key = prefix + WRITE_CHECK_KEY
    store.abort_unfinished(key)
    upload_id = store.start(key, content_type="text/plain", metadata={"purpose": "write-check"})
    try:
        digest = hashlib.sha256(_WRITE_CHECK_BODY)
        checksum = base64.b64encode(digest.digest()).decode("ascii")
        part = store.upload_part(key, upload_id, 1, _WRITE_CHECK_BODY, checksum)
        store.complete(key, upload_id, [part])
    except Exception:
        with suppress(ObjectStoreError):
            store.abort(key, upload_id)
        raise
    store.tag(key, {SHA256_TAG: digest.hexdigest(), SIZE_TAG: str(len(_WRITE_CHECK_BODY))})
    stored = store.find(key)
    if stored is None or not _finished(stored) or stored.tags[SHA256_TAG] != digest.hexdigest():
        raise ObjectStoreError(f"wrote {key} but could not read it back with its tags", retryable=False)
    if key not in store.list_keys(key):
        raise ObjectStoreError(f"wrote {key} but listing the prefix does not show it", retryable=False)
    return store.s3_uri(key)


def _finished(stored: StoredObjectView) -> bool:
    sha = stored.tags.get(SHA256_TAG, "")
    return bool(_SHA256_HEX.fullmatch(sha)) and stored.tags.get(SIZE_TAG) == str(stored.size)
