"""`runway-bridge dev --data-dir`: keep the bridge's durable data across restarts.

moto 5.2.5 keeps everything in memory and has no snapshot/restore (its request recorder replays raw
requests, which would re-run executions and deliveries). So the durable data is copied out through the
public AWS APIs when the stack stops and copied back in after the next start created the resources:
DynamoDB items and S3 objects of the template's tables and buckets (keyed by logical id, since
physical names may change) and every Secrets Manager secret. Queue contents, executions in flight and
schedules' progress are not kept; a killed process (SIGKILL) saves nothing.
"""

from __future__ import annotations

import base64
import json
import logging
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ClientFactory = Callable[[str], Any]
_BATCH_WRITE_LIMIT = 25


def _logical_ids(template: Mapping[str, Any], resource_type: str) -> list[str]:
    return [
        logical_id
        for logical_id, resource in (template.get("Resources") or {}).items()
        if resource.get("Type") == resource_type
    ]


class DataDir:
    """Saves and restores the durable data of a running local stack under one directory."""

    def __init__(
        self,
        root: Path,
        *,
        template: Mapping[str, Any],
        physical_id: Callable[[str], str],
        client: ClientFactory,
    ) -> None:
        self.root = root
        self._tables = {
            logical_id: physical_id(logical_id)
            for logical_id in _logical_ids(template, "AWS::DynamoDB::Table")
        }
        self._buckets = {
            logical_id: physical_id(logical_id) for logical_id in _logical_ids(template, "AWS::S3::Bucket")
        }
        self._client = client

    # --- save -------------------------------------------------------------------------------------

    def save(self) -> dict[str, int]:
        """Write everything to a fresh copy, then swap it in, so a failed save keeps the last one."""
        staging = self.root.with_name(self.root.name + ".saving")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        counts = {
            "items": self._save_tables(staging / "dynamodb"),
            "objects": self._save_buckets(staging / "s3"),
            "secrets": self._save_secrets(staging / "secrets.json"),
        }
        previous = self.root.with_name(self.root.name + ".previous")
        shutil.rmtree(previous, ignore_errors=True)
        if self.root.exists():
            self.root.rename(previous)
        staging.rename(self.root)
        shutil.rmtree(previous, ignore_errors=True)
        return counts

    def _save_tables(self, directory: Path) -> int:
        directory.mkdir()
        dynamodb = self._client("dynamodb")
        count = 0
        for logical_id, table in self._tables.items():
            with (directory / f"{logical_id}.jsonl").open("w") as out:
                for page in dynamodb.get_paginator("scan").paginate(TableName=table):
                    for item in page.get("Items", []):
                        out.write(json.dumps(item, default=_encode_bytes) + "\n")
                        count += 1
        return count

    def _save_buckets(self, directory: Path) -> int:
        s3 = self._client("s3")
        count = 0
        for logical_id, bucket in self._buckets.items():
            bucket_dir = directory / logical_id
            bucket_dir.mkdir(parents=True)
            index: list[dict[str, Any]] = []
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                for entry in page.get("Contents", []):
                    response = s3.get_object(Bucket=bucket, Key=entry["Key"])
                    file_name = f"{len(index):08d}"
                    with (bucket_dir / file_name).open("wb") as out:
                        for chunk in response["Body"].iter_chunks(1 << 20):
                            out.write(chunk)
                    index.append(
                        {
                            "key": entry["Key"],
                            "file": file_name,
                            "contentType": response.get("ContentType"),
                            "metadata": response.get("Metadata") or {},
                        }
                    )
                    count += 1
            (bucket_dir / "index.json").write_text(json.dumps(index))
        return count

    def _save_secrets(self, path: Path) -> int:
        secrets = self._client("secretsmanager")
        saved = []
        for page in secrets.get_paginator("list_secrets").paginate():
            for entry in page.get("SecretList", []):
                value = secrets.get_secret_value(SecretId=entry["ARN"])
                saved.append({"name": entry["Name"], "value": value.get("SecretString")})
        path.write_text(json.dumps(saved))
        return len(saved)

    # --- restore ----------------------------------------------------------------------------------

    def restore(self) -> dict[str, int]:
        if not self.root.exists():
            return {"items": 0, "objects": 0, "secrets": 0}
        return {
            "items": self._restore_tables(self.root / "dynamodb"),
            "objects": self._restore_buckets(self.root / "s3"),
            "secrets": self._restore_secrets(self.root / "secrets.json"),
        }

    def _restore_tables(self, directory: Path) -> int:
        dynamodb = self._client("dynamodb")
        count = 0
        for logical_id, table in self._tables.items():
            path = directory / f"{logical_id}.jsonl"
            if not path.exists():
                continue
            items = [
                json.loads(line, object_hook=_decode_bytes) for line in path.read_text().splitlines() if line
            ]
            for start in range(0, len(items), _BATCH_WRITE_LIMIT):
                requests: Any = {
                    table: [
                        {"PutRequest": {"Item": item}} for item in items[start : start + _BATCH_WRITE_LIMIT]
                    ]
                }
                while requests:
                    requests = (
                        dynamodb.batch_write_item(RequestItems=requests).get("UnprocessedItems") or None
                    )
            count += len(items)
        return count

    def _restore_buckets(self, directory: Path) -> int:
        s3 = self._client("s3")
        count = 0
        for logical_id, bucket in self._buckets.items():
            index_path = directory / logical_id / "index.json"
            if not index_path.exists():
                continue
            for entry in json.loads(index_path.read_text()):
                extra = {"ContentType": entry["contentType"]} if entry.get("contentType") else {}
                with (directory / logical_id / entry["file"]).open("rb") as body:
                    s3.put_object(
                        Bucket=bucket, Key=entry["key"], Body=body, Metadata=entry["metadata"], **extra
                    )
                count += 1
        return count

    def _restore_secrets(self, path: Path) -> int:
        if not path.exists():
            return 0
        secrets = self._client("secretsmanager")
        saved = json.loads(path.read_text())
        for entry in saved:
            if entry["value"] is None:
                continue
            try:
                secrets.put_secret_value(SecretId=entry["name"], SecretString=entry["value"])
            except secrets.exceptions.ResourceNotFoundException:
                secrets.create_secret(Name=entry["name"], SecretString=entry["value"])
        return len(saved)


# DynamoDB binary attributes come back from boto3 as bytes; JSON keeps them as {"__b64__": ...}.
def _encode_bytes(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return {"__b64__": base64.b64encode(bytes(value)).decode()}
    raise TypeError(f"cannot save {type(value).__name__}")


def _decode_bytes(value: dict[str, Any]) -> Any:
    if set(value) == {"__b64__"}:
        return base64.b64decode(value["__b64__"])
    return value
