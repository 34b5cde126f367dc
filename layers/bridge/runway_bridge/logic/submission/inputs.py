"""`s3://bucket/key` inputs (docs/s3-inputs.md): checked before anything is stored or sent, and
turned into presigned GETs only in the body sent to Runway.

The job keeps the `s3://` body (its stored body and its idempotency fingerprint), so a retry with
the same Idempotency-Key matches, and no expiring URL is ever stored or shown. Each send presigns
afresh (or, with `input_delivery` "upload", streams each object through Runway's upload flow and
sends the `runway://` URI); a deferred send (the poller's, for a queued job) looks at each object
again first.
"""

from __future__ import annotations

import mimetypes
import posixpath
from collections.abc import Collection, Mapping
from typing import Any, Literal

from runway_bridge.errors import InputObjectForbiddenError, InputObjectMissingError, InputRefusedError
from runway_bridge.logic.ports import InputObjects, RunwayApi
from runway_bridge.models.operations import REGISTRY, InputUri
from runway_bridge.models.runway import URL_INPUT_MAX_BYTES, MediaKind, UploadRequest, split_s3_uri

BUCKET_NOT_ALLOWED = "s3_bucket_not_allowed"
INPUT_NOT_FOUND = "s3_input_not_found"
INPUT_FORBIDDEN = "s3_input_forbidden"
INPUT_TOO_LARGE = "s3_input_too_large"
INPUT_WRONG_TYPE = "s3_input_wrong_type"


class S3Inputs:
    def __init__(
        self,
        objects: InputObjects,
        *,
        allowed_buckets: Collection[str],
        url_ttl_s: int,
        delivery: Literal["presign", "upload"] = "presign",
    ) -> None:
        self._objects = objects
        self._allowed = frozenset(allowed_buckets)
        self._ttl_s = url_ttl_s
        self._delivery = delivery

    def check(self, operation: str, body: Mapping[str, Any]) -> None:
        """Raise InputRefusedError (400) for the first `s3://` input of `body` the bridge will not
        send: its bucket is not allowed, or its object is missing, unreadable, larger than Runway
        takes for its kind, or of a content type the field does not take. StoreUnavailableError
        when S3 could not be asked."""
        for found in REGISTRY[operation].input_uris(body):
            location = split_s3_uri(found.uri)
            if location is not None:
                self._check_one(found, *location)

    def for_runway(
        self, operation: str, body: Mapping[str, Any], runway: RunwayApi, *, budget_s: float
    ) -> Mapping[str, Any]:
        """`body` as Runway is sent it: each `s3://` input replaced by a presigned GET (local
        signing, no request), or with `delivery` "upload" by the `runway://` URI of its bytes sent
        through Runway's upload flow (within `budget_s`); `body` itself when it has none. Raises
        (nothing was created at Runway) when an object cannot be read or uploaded."""
        spec = REGISTRY[operation]
        if not any(split_s3_uri(found.uri) for found in spec.input_uris(body)):
            return body
        if self._delivery == "upload":
            return spec.map_input_uris(body, lambda uri: self._upload(uri, runway, budget_s))
        return spec.map_input_uris(body, self._presign)

    def _upload(self, uri: str, runway: RunwayApi, budget_s: float) -> str:
        location = split_s3_uri(uri)
        if location is None:
            return uri
        bucket, key = location
        # The caps checked before the job was recorded bound what is held in memory here.
        content, found = self._objects.read(bucket, key, max_bytes=max(URL_INPUT_MAX_BYTES.values()))
        content_type = found.content_type or "application/octet-stream"
        return runway.upload(_upload_filename(key, content_type), content, content_type, budget_s=budget_s)

    def _presign(self, uri: str) -> str:
        location = split_s3_uri(uri)
        if location is None:
            return uri
        bucket, key = location
        return self._objects.presign_get(bucket, key, expires_in_s=self._ttl_s)

    def _check_one(self, found: InputUri, bucket: str, key: str) -> None:
        where = f"{found.field}: {found.uri}"
        if bucket not in self._allowed:
            allowed = ", ".join(sorted(self._allowed)) or "none"
            raise InputRefusedError(
                f"{where}: bucket {bucket!r} is not one the bridge may read (allowed: {allowed})",
                code=BUCKET_NOT_ALLOWED,
            )
        try:
            head = self._objects.head(bucket, key)
        except InputObjectMissingError:
            raise InputRefusedError(f"{where}: no such object", code=INPUT_NOT_FOUND) from None
        except InputObjectForbiddenError:
            raise InputRefusedError(
                f"{where}: the bridge cannot read this object (it may not exist, or the bucket's "
                "policy or region keeps the bridge out)",
                code=INPUT_FORBIDDEN,
            ) from None
        kind = _kind_of(head.content_type, found.kinds)
        if kind is None:
            expected = " or ".join(f"{k}/*" for k in found.kinds)
            raise InputRefusedError(
                f"{where}: its Content-Type is {head.content_type or 'not set'}; this field takes "
                f"{expected} (Runway goes by the Content-Type, not the file name)",
                code=INPUT_WRONG_TYPE,
            )
        cap = URL_INPUT_MAX_BYTES[kind]
        if head.size > cap:
            raise InputRefusedError(
                f"{where}: {head.size} bytes is more than Runway takes for a {kind} ({cap} bytes)",
                code=INPUT_TOO_LARGE,
            )


def _upload_filename(key: str, content_type: str) -> str:
    """A name Runway's upload takes (plain, with an extension) for the object at `key`."""
    name = posixpath.basename(key)
    try:
        return UploadRequest(filename=name).filename
    except ValueError:
        extension = mimetypes.guess_extension(content_type.split(";", 1)[0].strip()) or ".bin"
        return f"input{extension}"


def _kind_of(content_type: str | None, kinds: tuple[MediaKind, ...]) -> MediaKind | None:
    """The field's kind an object's Content-Type names (`image/png` is an image), if any."""
    major = (content_type or "").split(";", 1)[0].strip().lower().partition("/")[0]
    return next((kind for kind in kinds if kind == major), None)
