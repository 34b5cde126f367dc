"""boto3 clients, one per service per process, with explicit timeouts and bounded retries.

The endpoint comes from the environment (`AWS_ENDPOINT_URL`, which boto3 honours), so the local
runtime points every client at moto without code changes here.
"""

from __future__ import annotations

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


@cache
def aws_client(service: str) -> Any:
    """The process's client for `service` (created on first use, never at import)."""
    return boto3.session.Session().client(service, config=AWS_CLIENT_CONFIG)  # type: ignore[call-overload]
