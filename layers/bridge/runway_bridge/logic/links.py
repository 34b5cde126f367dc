"""Stable output links: `<base>/v1/outputs/<jobId>/<index>?expires=<epoch>&signature=<hex>`.

A presigned S3 URL dies with the session of the role that signed it (hours for a Lambda role), so
notifications also carry this bridge-signed link: the API checks the HMAC and answers a redirect to a
presign made at that moment. The link is the credential (no API key needed), so it is signed over
job, output index and expiry, and compared in constant time. Notifications and the task view
(`outputs[].link`) sign with the same signer; checking a link needs no base URL.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlencode

from runway_bridge.errors import OutputLinkRefusedError
from runway_bridge.models.job import Job, JobOutput


def _signature(key: bytes, job_id: str, index: int, expires: int) -> str:
    return hmac.new(key, f"{job_id}/{index}/{expires}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class OutputLinkSigner:
    base_url: str | None  # where the API answers (`.../prod`); None: each link names it
    key: Callable[[], bytes]  # the link secret (cached by its provider)
    ttl_s: int

    def link_for(
        self, job: Job, output: JobOutput, *, now: datetime | None = None, base_url: str | None = None
    ) -> tuple[str, datetime]:
        """The link and its expiry, under `base_url` (else the signer's own)."""
        base = base_url or self.base_url
        if not base:
            raise ValueError("a stable link needs the API's base URL")
        issued = now or datetime.now(UTC)
        expires_at = (issued + timedelta(seconds=self.ttl_s)).replace(microsecond=0)
        expires = int(expires_at.timestamp())
        query = urlencode(
            {"expires": expires, "signature": _signature(self.key(), job.job_id, output.index, expires)}
        )
        path = f"/v1/outputs/{quote(job.job_id, safe='')}/{output.index}"
        return f"{base.rstrip('/')}{path}?{query}", expires_at

    def verify(
        self, job_id: str, index: int, expires: int, signature: str, *, now: datetime | None = None
    ) -> None:
        """Raises OutputLinkRefusedError unless the signature is right and not expired."""
        expected = _signature(self.key(), job_id, index, expires)
        # Bytes: compare_digest refuses non-ASCII str, and a link's query is whatever the caller sent.
        if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
            raise OutputLinkRefusedError("this output link is not valid (signature)")
        if (now or datetime.now(UTC)).timestamp() > expires:
            raise OutputLinkRefusedError(
                "this output link has expired: ask GET /v1/tasks/{id} for fresh URLs"
            )
