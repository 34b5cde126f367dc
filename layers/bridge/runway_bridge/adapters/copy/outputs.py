"""The two ends of an output copy: a streaming HTTP download (httpx) and an S3 multipart upload
(boto3). Both turn library failures into `runway_bridge.errors` output-copy errors.

Why boto3's low-level multipart calls (create / upload_part / complete / abort) and not the managed
transfer (`upload_fileobj`): we hash the stream ourselves while it flows, send each part with its own
SHA-256 checksum, and must abort a half upload deterministically when the download breaks. The
managed transfer reads the source on its own threads (the whole-file SHA-256 would need a second pass
or a buffered copy), hides the upload id (so a broken copy cannot be aborted by us, only left to a
lifecycle rule) and buffers several parts concurrently (memory grows with its concurrency).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urljoin

import httpx
from botocore.exceptions import BotoCoreError, ClientError

from runway_bridge.adapters.url_guard import UrlGuard, pinned_target
from runway_bridge.errors import (
    CallbackUrlRefusedError,
    ObjectStoreError,
    OutputExpiredError,
    OutputFetchError,
    OutputUrlRefusedError,
)
from runway_bridge.models.records import CheckedUrl, UrlChecker
from runway_bridge.settings import BridgeSettings

# Runway answers an expired signed URL with 403, a deleted task's output with 404.
EXPIRED_STATUSES: Final = frozenset({403, 404})
RETRYABLE_STATUSES: Final = frozenset({408, 425, 429, 500, 502, 503, 504})
DEFAULT_CHUNK_BYTES: Final = 1024 * 1024
DEFAULT_MAX_REDIRECTS: Final = 5


@dataclass(frozen=True)
class DownloadTimeouts:
    connect_s: float = 5.0
    # Longest silence between two chunks of the body (not the whole download: a GiB takes a while).
    read_s: float = 30.0


class OutputDownload:
    """An open download: the response's content type and length, and its body as chunks."""

    def __init__(self, response: httpx.Response, chunk_bytes: int) -> None:
        self._response = response
        self._chunk_bytes = chunk_bytes

    @property
    def content_type(self) -> str | None:
        value: str | None = self._response.headers.get("Content-Type")
        return value

    @property
    def content_length(self) -> int | None:
        value = self._response.headers.get("Content-Length")
        return int(value) if value is not None and value.isdigit() else None

    def chunks(self) -> Iterator[bytes]:
        """The body in chunks. A broken or short body raises a retryable OutputFetchError."""
        received = 0
        try:
            for chunk in self._response.iter_bytes(self._chunk_bytes):
                received += len(chunk)
                yield chunk
        except httpx.HTTPError as exc:
            raise OutputFetchError(
                f"the output download broke after {received} bytes: {type(exc).__name__}", retryable=True
            ) from exc
        expected = self.content_length
        if expected is not None and received != expected:
            raise OutputFetchError(
                f"the output download ended after {received} of {expected} bytes", retryable=True
            )


class HttpOutputSource:
    """Streams output URLs over one httpx client (explicit timeouts, no whole-body reads).

    Every URL, and every redirect target, passes the address guard first (`check`), and the request
    connects to the very address the guard accepted (original `Host` and TLS SNI), as webhook
    deliveries do: a Runway answer or a redirect naming a private, loopback or metadata address is
    refused before any connection (`OutputUrlRefusedError`, not retried: the job fails). Redirects
    are followed by hand, at most `max_redirects` of them; no proxy from the environment is used.
    """

    def __init__(
        self,
        *,
        timeouts: DownloadTimeouts | None = None,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        client: httpx.Client | None = None,
        check: UrlChecker | None = None,
        max_redirects: int = DEFAULT_MAX_REDIRECTS,
    ) -> None:
        timeouts = timeouts or DownloadTimeouts()
        self._chunk_bytes = chunk_bytes
        self._check = check or UrlGuard(ports=None, subject="output URL").check
        self._max_redirects = max_redirects
        self._owns_client = client is None
        self._client = client or httpx.Client(
            timeout=httpx.Timeout(timeouts.read_s, connect=timeouts.connect_s),
            follow_redirects=False,
            trust_env=False,
        )

    @classmethod
    def from_settings(cls, settings: BridgeSettings) -> HttpOutputSource:
        return cls(
            timeouts=DownloadTimeouts(
                connect_s=settings.copy_connect_timeout_s, read_s=settings.copy_read_timeout_s
            ),
            check=UrlGuard.for_outputs(settings).check,
            max_redirects=settings.copy_max_redirects,
        )

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    @contextmanager
    def open(self, url: str) -> Iterator[OutputDownload]:
        try:
            response = self._follow(url)
            try:
                _raise_for_status(response)
                yield OutputDownload(response, self._chunk_bytes)
            finally:
                response.close()
        except httpx.HTTPError as exc:
            # Only failures before the body starts land here; chunks() maps the ones inside it.
            raise OutputFetchError(
                f"could not fetch the output: {type(exc).__name__}", retryable=True
            ) from exc

    def _follow(self, url: str) -> httpx.Response:
        """GET `url`, following redirects by hand, each hop checked; the first non-redirect answer."""
        for _ in range(self._max_redirects + 1):
            checked = self._checked(url)
            target, host_header = pinned_target(checked)
            request = self._client.build_request(
                "GET", target, headers={"host": host_header}, extensions={"sni_hostname": checked.host}
            )
            response = self._client.send(request, stream=True)
            if not response.is_redirect:
                return response
            response.close()
            location = response.headers.get("Location")
            if not location:
                raise OutputFetchError(f"the output URL answered {response.status_code} without a Location")
            url = urljoin(url, location)
        raise OutputFetchError(f"the output URL redirected more than {self._max_redirects} times")

    def _checked(self, url: str) -> CheckedUrl:
        try:
            return self._check(url)
        except CallbackUrlRefusedError as exc:
            # A name that does not resolve (yet) may be DNS having a bad minute: try again later.
            # Any other refusal is a property of the URL Runway gave: it fails the copy for good.
            if exc.reason == "unresolvable":
                raise OutputFetchError(exc.message, retryable=True) from exc
            raise OutputUrlRefusedError(exc.message) from exc


def _raise_for_status(response: httpx.Response) -> None:
    status = response.status_code
    if status < 300:
        return
    if status in EXPIRED_STATUSES:
        raise OutputExpiredError(f"the output URL answered {status}: expired or gone")
    raise OutputFetchError(f"the output URL answered {status}", retryable=status in RETRYABLE_STATUSES)


@dataclass(frozen=True)
class StoredObject:
    """What S3 holds at a key: its size, content type, user metadata and tags."""

    size: int
    content_type: str | None
    metadata: Mapping[str, str]
    tags: Mapping[str, str]


@dataclass(frozen=True)
class UploadedPart:
    number: int
    etag: str
    checksum_sha256: str


class S3MultipartStore:
    """One bucket's multipart uploads, with a SHA-256 checksum on every part (S3 verifies each part
    against it; moto 5.2 accepts the checksum but does not verify it). The bridge's bucket gets SSE
    named on every object (SSE-S3, or SSE-KMS with `kms_key_id`); a tenant's bucket
    (`bucket_default_encryption`) gets none named, so the bucket's own default encryption applies.

    Failures name the call and S3's error code (e.g. `AccessDenied`, `NoSuchBucket`): the key
    setup's write check shows them to the operator."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        *,
        kms_key_id: str | None = None,
        bucket_default_encryption: bool = False,
    ) -> None:
        self._client = client
        self._bucket = bucket
        self._kms_key_id = kms_key_id
        self._bucket_default_encryption = bucket_default_encryption

    @classmethod
    def from_settings(cls, client: Any, settings: BridgeSettings) -> S3MultipartStore:
        return cls(client, settings.bucket_name, kms_key_id=settings.output_kms_key_id)

    @classmethod
    def for_tenant_bucket(cls, client: Any, bucket: str) -> S3MultipartStore:
        return cls(client, bucket, bucket_default_encryption=True)

    @property
    def bucket(self) -> str:
        return self._bucket

    def s3_uri(self, key: str) -> str:
        return f"s3://{self._bucket}/{key}"

    def check_region(self) -> None:
        """ObjectStoreError unless the bucket exists in this client's region (the bridge's): a
        presigned output URL is signed for the bridge's region and fails for a bucket elsewhere."""
        own = self._client.meta.region_name
        failure = f"could not look up bucket {self._bucket}"
        try:
            answer = self._client.head_bucket(Bucket=self._bucket)
            region = answer.get("BucketRegion") or _region_header(answer)
        except ClientError as exc:
            # S3 answers another region's bucket with 301 and names the region in a header.
            region = _region_header(exc.response)
            if region is None or region == own:
                code = _HEAD_BUCKET_CODES.get(_why(exc), _why(exc))
                raise ObjectStoreError(f"{failure} ({code})", retryable=True) from exc
        except BotoCoreError as exc:
            raise ObjectStoreError(f"{failure} ({_why(exc)})", retryable=True) from exc
        if region and own and region != own:
            raise ObjectStoreError(
                f"bucket {self._bucket} is in {region} and the bridge in {own}: output URLs are presigned "
                "for the bridge's region",
                retryable=False,
            )

    def find(self, key: str) -> StoredObject | None:
        try:
            head = self._client.head_object(Bucket=self._bucket, Key=key)
            tags = self._client.get_object_tagging(Bucket=self._bucket, Key=key)["TagSet"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise ObjectStoreError(f"could not look up {key} ({_why(exc)})", retryable=True) from exc
        except BotoCoreError as exc:
            raise ObjectStoreError(f"could not look up {key} ({_why(exc)})", retryable=True) from exc
        return StoredObject(
            size=int(head["ContentLength"]),
            content_type=head.get("ContentType"),
            metadata=dict(head.get("Metadata", {})),
            tags={tag["Key"]: tag["Value"] for tag in tags},
        )

    def list_keys(self, prefix: str) -> list[str]:
        keys: list[str] = []
        try:
            paginator = self._client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
                keys.extend(item["Key"] for item in page.get("Contents", []))
        except (BotoCoreError, ClientError) as exc:
            raise ObjectStoreError(f"could not list {prefix} ({_why(exc)})", retryable=True) from exc
        return keys

    def abort_unfinished(self, prefix: str) -> int:
        """Abort every multipart upload still open under `prefix` (left by a crashed copy).
        Returns how many were aborted."""
        aborted = 0
        try:
            paginator = self._client.get_paginator("list_multipart_uploads")
            for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
                for upload in page.get("Uploads", []):
                    self.abort(upload["Key"], upload["UploadId"])
                    aborted += 1
        except (BotoCoreError, ClientError) as exc:
            raise ObjectStoreError(
                f"could not list unfinished uploads under {prefix} ({_why(exc)})", retryable=True
            ) from exc
        return aborted

    def start(self, key: str, *, content_type: str, metadata: Mapping[str, str]) -> str:
        encryption: dict[str, str] = {"ServerSideEncryption": "AES256"}
        if self._bucket_default_encryption:
            encryption = {}
        elif self._kms_key_id:
            encryption = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self._kms_key_id}
        try:
            answer = self._client.create_multipart_upload(
                Bucket=self._bucket,
                Key=key,
                ContentType=content_type,
                Metadata=dict(metadata),
                ChecksumAlgorithm="SHA256",
                **encryption,
            )
        except (BotoCoreError, ClientError) as exc:
            raise ObjectStoreError(
                f"could not start the upload of {key} ({_why(exc)})", retryable=True
            ) from exc
        upload_id: str = answer["UploadId"]
        return upload_id

    def upload_part(
        self, key: str, upload_id: str, number: int, body: bytes, checksum_sha256: str
    ) -> UploadedPart:
        try:
            answer = self._client.upload_part(
                Bucket=self._bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=number,
                Body=body,
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=checksum_sha256,
            )
        except (BotoCoreError, ClientError) as exc:
            raise ObjectStoreError(
                f"could not upload part {number} of {key} ({_why(exc)})", retryable=True
            ) from exc
        return UploadedPart(number, answer["ETag"], answer.get("ChecksumSHA256") or checksum_sha256)

    def complete(self, key: str, upload_id: str, parts: list[UploadedPart]) -> None:
        try:
            self._client.complete_multipart_upload(
                Bucket=self._bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={
                    "Parts": [
                        {"PartNumber": part.number, "ETag": part.etag, "ChecksumSHA256": part.checksum_sha256}
                        for part in parts
                    ]
                },
            )
        except (BotoCoreError, ClientError) as exc:
            raise ObjectStoreError(
                f"could not complete the upload of {key} ({_why(exc)})", retryable=True
            ) from exc

    def abort(self, key: str, upload_id: str) -> None:
        try:
            self._client.abort_multipart_upload(Bucket=self._bucket, Key=key, UploadId=upload_id)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchUpload":
                return  # already aborted or completed: nothing left to clean
            raise ObjectStoreError(
                f"could not abort the upload of {key} ({_why(exc)})", retryable=True
            ) from exc
        except BotoCoreError as exc:
            raise ObjectStoreError(
                f"could not abort the upload of {key} ({_why(exc)})", retryable=True
            ) from exc

    def tag(self, key: str, tags: Mapping[str, str]) -> None:
        try:
            self._client.put_object_tagging(
                Bucket=self._bucket,
                Key=key,
                Tagging={"TagSet": [{"Key": name, "Value": value} for name, value in tags.items()]},
            )
        except (BotoCoreError, ClientError) as exc:
            raise ObjectStoreError(f"could not tag {key} ({_why(exc)})", retryable=True) from exc


# HeadBucket answers have no body: S3's status stands for its error code.
_HEAD_BUCKET_CODES: Final = {"404": "NoSuchBucket", "403": "AccessDenied"}


def _region_header(answer: Mapping[str, Any]) -> str | None:
    region = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("x-amz-bucket-region")
    return str(region) if region else None


def _why(exc: Exception) -> str:
    """S3's error code (AccessDenied, NoSuchBucket, ...), or the kind of failure without one."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "")) or "ClientError"
    return type(exc).__name__
