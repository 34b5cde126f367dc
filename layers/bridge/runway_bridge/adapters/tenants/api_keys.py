"""Bridge API keys in DynamoDB (stored as SHA-256 only) and each tenant's limits and output
destination beside them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from runway_bridge.errors import StoreConditionFailedError, StoreUnavailableError
from runway_bridge.models.records import ApiKeyRecord
from runway_bridge.models.tenant import OutputDestination, TenantLimits, TenantProfile

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _key(key_hash: str) -> dict[str, Any]:
    return {"pk": {"S": f"KEY#{key_hash}"}}


def _tenant(tenant_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"TENANT#{tenant_id}"}}


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class DynamoApiKeyStore:
    """Key items: `pk` = `KEY#<sha256>`, `tenantId`, `name`, `createdAt`, `revokedAt`.
    Tenant items: `pk` = `TENANT#<tenantId>`, `limits` (a map; absent names are unlimited),
    `outputDestination` (a map `bucket`, `prefix`; absent: the bridge's bucket)."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def put(self, record: ApiKeyRecord) -> None:
        item = {
            "pk": f"KEY#{record.key_hash}",
            "keyHash": record.key_hash,
            "tenantId": record.tenant_id,
            "name": record.name,
            "createdAt": record.created_at.isoformat(),
            "revokedAt": record.revoked_at.isoformat() if record.revoked_at else None,
        }
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    name: _serializer.serialize(value) for name, value in item.items() if value is not None
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if _error_code(exc) == "ConditionalCheckFailedException":
                raise StoreConditionFailedError("that key exists") from exc
            raise StoreUnavailableError("could not store the API key") from exc
        except BotoCoreError as exc:
            raise StoreUnavailableError("could not store the API key") from exc

    def get(self, key_hash: str) -> ApiKeyRecord | None:
        try:
            answer = self._client.get_item(TableName=self._table, Key=_key(key_hash), ConsistentRead=True)
        except (BotoCoreError, ClientError) as exc:
            raise StoreUnavailableError("could not read the API key") from exc
        return _record(answer["Item"]) if "Item" in answer else None

    def revoke(self, key_hash: str, *, at: datetime) -> ApiKeyRecord | None:
        try:
            answer = self._client.update_item(
                TableName=self._table,
                Key=_key(key_hash),
                # Keep the first revocation time if revoked twice.
                UpdateExpression="SET revokedAt = if_not_exists(revokedAt, :at)",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":at": {"S": at.isoformat()}},
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if _error_code(exc) == "ConditionalCheckFailedException":
                return None
            raise StoreUnavailableError("could not revoke the API key") from exc
        except BotoCoreError as exc:
            raise StoreUnavailableError("could not revoke the API key") from exc
        return _record(answer["Attributes"])

    def list_for_tenant(self, tenant_id: str) -> list[ApiKeyRecord]:
        # Keys are few and listed rarely (by an operator), so a filtered scan is fine here.
        records: list[ApiKeyRecord] = []
        request: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": "tenantId = :tenant AND begins_with(pk, :keys)",
            "ExpressionAttributeValues": {":tenant": {"S": tenant_id}, ":keys": {"S": "KEY#"}},
        }
        try:
            while True:
                answer = self._client.scan(**request)
                records.extend(_record(item) for item in answer.get("Items", []))
                if "LastEvaluatedKey" not in answer:
                    return records
                request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        except (BotoCoreError, ClientError) as exc:
            raise StoreUnavailableError("could not list API keys") from exc

    def tenant_active(self, tenant_id: str) -> bool:
        """True when `tenant_id` holds at least one unrevoked key (a bus submit names its tenant
        itself, so it must be one the bridge issued keys to). A filtered scan like
        `list_for_tenant`, stopping at the first match; only key items count."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": (
                "tenantId = :tenant AND begins_with(pk, :key) AND attribute_not_exists(revokedAt)"
            ),
            "ExpressionAttributeValues": {":tenant": {"S": tenant_id}, ":key": {"S": "KEY#"}},
            "ProjectionExpression": "pk",
        }
        try:
            while True:
                answer = self._client.scan(**request)
                if answer.get("Items"):
                    return True
                if "LastEvaluatedKey" not in answer:
                    return False
                request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        except (BotoCoreError, ClientError) as exc:
            raise StoreUnavailableError("could not look up the tenant's API keys") from exc

    # --- tenant limits and output destination -------------------------------------------------

    def profile(self, tenant_id: str) -> TenantProfile:
        try:
            answer = self._client.get_item(TableName=self._table, Key=_tenant(tenant_id), ConsistentRead=True)
        except (BotoCoreError, ClientError) as exc:
            raise StoreUnavailableError("could not read the tenant's limits") from exc
        if "Item" not in answer:
            return TenantProfile()
        item = {name: _deserializer.deserialize(value) for name, value in answer["Item"].items()}
        raw = item.get("limits") or {}
        limits = TenantLimits.model_validate(
            {
                name: (float(value) if name == "maxCreditsPerDay" else int(value))
                for name, value in raw.items()
            }
        )
        destination = item.get("outputDestination")
        return TenantProfile(
            limits=limits,
            output_destination=OutputDestination.model_validate(destination) if destination else None,
        )

    def limits(self, tenant_id: str) -> TenantLimits:
        return self.profile(tenant_id).limits

    def set_limits(self, tenant_id: str, limits: TenantLimits) -> None:
        stored = {
            name: _serializer.serialize(Decimal(repr(value)) if isinstance(value, float) else value)
            for name, value in limits.to_json().items()
            if value is not None
        }
        self._set(tenant_id, "limits", {"M": stored}, what="limits")

    def set_output_destination(self, tenant_id: str, destination: OutputDestination | None) -> None:
        value: Any = None
        if destination is not None:
            value = _serializer.serialize(destination.model_dump(mode="json"))
        self._set(tenant_id, "outputDestination", value, what="output destination")

    def _set(self, tenant_id: str, attribute: str, value: Any, *, what: str) -> None:
        """One attribute of the tenant item (None removes it); the others are kept."""
        request: dict[str, Any] = {"TableName": self._table, "Key": _tenant(tenant_id)}
        if value is None:
            request["UpdateExpression"] = f"REMOVE {attribute}"
        else:
            request["UpdateExpression"] = f"SET {attribute} = :value"
            request["ExpressionAttributeValues"] = {":value": value}
        try:
            self._client.update_item(**request)
        except (BotoCoreError, ClientError) as exc:
            raise StoreUnavailableError(f"could not store the tenant's {what}") from exc


def _record(raw: dict[str, Any]) -> ApiKeyRecord:
    item = {name: _deserializer.deserialize(value) for name, value in raw.items()}
    return ApiKeyRecord(
        key_hash=str(item["pk"]).removeprefix("KEY#"),
        tenant_id=item["tenantId"],
        name=item.get("name", ""),
        created_at=datetime.fromisoformat(item["createdAt"]),
        revoked_at=datetime.fromisoformat(item["revokedAt"]) if item.get("revokedAt") else None,
    )
