"""Copier function: placeholder until the handler lands; every record is reported failed so SQS
keeps the message for the real handler."""

from __future__ import annotations

from typing import Any


def lambda_handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    records = event.get("Records", [])
    return {"batchItemFailures": [{"itemIdentifier": record["messageId"]} for record in records]}
