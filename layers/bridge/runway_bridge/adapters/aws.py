"""boto3 clients, one per service (and endpoint) per process, with explicit timeouts and bounded
retries, all made from one boto3 Session per endpoint and region: a Session loads botocore's data
(endpoints, partitions, credential chain) once, so a function's second client costs a fraction of
its first (a Session per client paid that load for every client at cold start).

The endpoint comes from the environment (`AWS_ENDPOINT_URL`, which boto3 honours), so the local
runtime points every client at moto without code changes here. The cache is keyed on the endpoint
and region too: a test process that starts a second local stack gets clients for that one.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Final

import boto3
from botocore.config import Config

# botocore's "standard" mode retries throttling and 5xx with exponential backoff and jitter.
AWS_CLIENT_CONFIG: Final = Config(
    connect_timeout=3,
    read_timeout=10,
    retries={"mode": "standard", "max_attempts": 3},
)


# Presigned GETs someone else fetches (Runway, for s3:// inputs): SigV4 and the bucket's regional
# virtual host (path style for dotted names and for a local endpoint), so the URL never answers a
# redirect (Runway follows none) and works for buckets that take SigV4 only.
S3_PRESIGN_CONFIG: Final = AWS_CLIENT_CONFIG.merge(
    Config(signature_version="s3v4", s3={"addressing_style": "virtual"})
)


def aws_client(service: str) -> Any:
    """The process's client for `service` (created on first use, never at import)."""
    return _client(service, os.environ.get("AWS_ENDPOINT_URL"), os.environ.get("AWS_DEFAULT_REGION"))


def s3_presigner() -> Any:
    """The process's S3 client for presigned URLs a third party fetches (S3_PRESIGN_CONFIG)."""
    return _client(
        "s3",
        os.environ.get("AWS_ENDPOINT_URL"),
        os.environ.get("AWS_DEFAULT_REGION"),
        config=S3_PRESIGN_CONFIG,
        variant="presign",
    )


# A Session is not thread-safe: clients are made from it one at a time, under this lock, which also
# makes "made once" hold when threads ask at once (the clients themselves are safe to share).
_lock = threading.Lock()
_sessions: dict[tuple[str | None, str | None], boto3.session.Session] = {}
_clients: dict[tuple[str, str | None, str | None, str], Any] = {}


def _client(
    service: str,
    endpoint_url: str | None,
    region: str | None,
    *,
    config: Config = AWS_CLIENT_CONFIG,
    variant: str = "",
) -> Any:
    with _lock:
        client = _clients.get((service, endpoint_url, region, variant))
        if client is None:
            session = _sessions.get((endpoint_url, region))
            if session is None:
                session = _sessions[(endpoint_url, region)] = boto3.session.Session()
            client = session.client(  # type: ignore[call-overload]
                service, config=config, endpoint_url=endpoint_url, region_name=region
            )
            _clients[(service, endpoint_url, region, variant)] = client
        return client


def forget_clients() -> None:
    """Drop every client and session (tests that patch boto3)."""
    with _lock:
        _clients.clear()
        _sessions.clear()
