"""Standard Webhooks signing (https://www.standardwebhooks.com): pure functions, no I/O.

`webhook-signature` is a space-separated list of `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`,
one per secret: during a rotation both the new and the previous secret sign, so a receiver holding
either verifies. Secrets are `whsec_<base64 key>`; the HMAC key is the decoded base64 part.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from typing import Final

SECRET_PREFIX: Final = "whsec_"


def secret_key(secret: str) -> bytes:
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(encoded, validate=True)
    except ValueError as exc:
        raise ValueError("a webhook secret is whsec_ followed by base64") from exc


def signature(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def webhook_headers(secrets: Sequence[str], webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The Standard Webhooks headers for one attempt (`secrets`: current first, then previous)."""
    if not secrets:
        raise ValueError("at least one signing secret is needed")
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(secret, webhook_id, timestamp, body) for secret in secrets),
        "content-type": "application/json",
    }
