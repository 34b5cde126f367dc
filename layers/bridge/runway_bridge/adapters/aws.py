"""boto3 clients, one per service (and endpoint) per process, with explicit timeouts and bounded
retries.

The endpoint comes from the environment (`AWS_ENDPOINT_URL`, which boto3 honours), so the local
runtime points every client at moto without code changes here. The cache is keyed on the endpoint
and region too: a test process that starts a second local stack gets clients for that one.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any, Final

import boto3
from botocore.config import Config

# botocore's "standard" mode retries throttling and 5xx with exponential backoff and jitter.
AWS_CLIENT_CONFIG: Final = Config(
    connect_timeout=3,
    read_timeout=10,
    retries={"mode": "standard", "max_attempts": 3},
)


def aws_client(service: str) -> Any:
    """The process's client for `service` (created on first use, never at import)."""
    return _client(service, os.environ.get("AWS_ENDPOINT_URL"), os.environ.get("AWS_DEFAULT_REGION"))


@cache
def _client(service: str, endpoint_url: str | None, region: str | None) -> Any:
    return boto3.session.Session().client(  # type: ignore[call-overload]
        service, config=AWS_CLIENT_CONFIG, endpoint_url=endpoint_url, region_name=region
    )
