"""Input URLs the emulator fetches at create, like Runway does (`EmulatorConfig.fetch_inputs`).

Runway takes only HTTPS URLs on a domain name. A local stack's inputs live on loopback http (moto
serves the presigned GETs the bridge makes of `s3://` inputs), so with `fetch_inputs` the emulator
takes loopback URLs (http or https) where Runway takes HTTPS, and fetches each one before it creates
the task: an input it cannot fetch is a 400, as at Runway. Other URLs are never fetched (nothing here
leaves the machine). Each fetch is recorded on the task (`inputsFetched` in `/_emulator/tasks`), which
shows what Runway would have received.
"""

from __future__ import annotations

import ipaddress
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import httpx

from runway_bridge.models.operations import REGISTRY

FETCH_TIMEOUT_S: Final = 5.0
# Bytes read of each input: enough to prove it is served, bounded whatever its size.
FETCH_MAX_BYTES: Final = 64 * 1024


class InputFetchError(Exception):
    """An input URL could not be fetched (the message says which and why)."""


@dataclass(frozen=True)
class FetchedInput:
    field: str
    url: str
    status: int
    content_type: str | None
    bytes_read: int

    def to_json(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "url": self.url,
            "status": self.status,
            "contentType": self.content_type,
            "bytesRead": self.bytes_read,
        }


def is_loopback_url(uri: str) -> bool:
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def as_runway_would_see(operation: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """`body` with loopback input URLs given an https scheme, for validation by Runway's rules
    (which take HTTPS only); the URLs themselves are fetched as they are."""
    return REGISTRY[operation].map_input_uris(
        body, lambda uri: "https://" + uri.split("://", 1)[1] if is_loopback_url(uri) else uri
    )


def fetch_loopback_inputs(operation: str, body: Mapping[str, Any]) -> list[FetchedInput]:
    """GET each loopback input URL of `body` (no redirects, bounded read); raises InputFetchError
    for the first one that does not answer 200/206 with a Content-Type."""
    fetched = []
    with httpx.Client(timeout=FETCH_TIMEOUT_S, follow_redirects=False, trust_env=False) as client:
        for found in REGISTRY[operation].input_uris(body):
            if not is_loopback_url(found.uri):
                continue
            try:
                with client.stream("GET", found.uri) as answer:
                    read = 0
                    for chunk in answer.iter_bytes():
                        read += len(chunk)
                        if read >= FETCH_MAX_BYTES:
                            break
            except httpx.HTTPError as exc:
                raise InputFetchError(
                    f"{found.field}: failed to fetch the URL ({type(exc).__name__})"
                ) from exc
            content_type = answer.headers.get("content-type")
            if answer.status_code not in (200, 206) or not content_type:
                raise InputFetchError(
                    f"{found.field}: failed to fetch the URL (HTTP {answer.status_code}"
                    f"{'' if content_type else ', no Content-Type'})"
                )
            fetched.append(FetchedInput(found.field, found.uri, answer.status_code, content_type, read))
    return fetched
