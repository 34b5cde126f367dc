"""Bridge API keys in DynamoDB (stored as SHA-256 only) and API Gateway usage-plan keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from runway_bridge.errors import StoreConditionFailedError, StoreUnavailableError
from runway_bridge.logic.ports import ApiKeyRecord

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _key(key_hash: str) -> dict[str, Any]:
    return {"pk": {"S": f"KEY#{key_hash}"}}


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class DynamoApiKeyStore:
    """Items: `pk` = `KEY#<sha256>`, `tenantId`, `name`, `createdAt`, `revokedAt`, usage-plan key."""

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
            "usageKeyValue": record.usage_key_value,
            "usageKeyId": record.usage_key_id,
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
            "FilterExpression": "tenantId = :tenant",
            "ExpressionAttributeValues": {":tenant": {"S": tenant_id}},
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


def _record(raw: dict[str, Any]) -> ApiKeyRecord:
    item = {name: _deserializer.deserialize(value) for name, value in raw.items()}
    return ApiKeyRecord(
        key_hash=str(item["pk"]).removeprefix("KEY#"),
        tenant_id=item["tenantId"],
        name=item.get("name", ""),
        created_at=datetime.fromisoformat(item["createdAt"]),
        revoked_at=datetime.fromisoformat(item["revokedAt"]) if item.get("revokedAt") else None,
        usage_key_value=item.get("usageKeyValue"),
        usage_key_id=item.get("usageKeyId"),
    )


class ApiGatewayUsagePlans:
    """API keys in a usage plan; the authorizer returns the key's value as `usageIdentifierKey`
    (`ApiKeySourceType: AUTHORIZER`), so API Gateway throttles and meters per bridge key.
    Without a usage plan id (e.g. IAM-only deployments) it does nothing."""

    def __init__(self, client: Any, usage_plan_id: str | None) -> None:
        self._client = client
        self._usage_plan_id = usage_plan_id

    def register(self, name: str, value: str) -> str | None:
        if not self._usage_plan_id:
            return None
        try:
            key = self._client.create_api_key(name=name, value=value, enabled=True)
            self._client.create_usage_plan_key(
                usagePlanId=self._usage_plan_id, keyId=key["id"], keyType="API_KEY"
            )
        except (BotoCoreError, ClientError) as exc:
            raise StoreUnavailableError("could not register the key with the usage plan") from exc
        return str(key["id"])

    def disable(self, key_id: str) -> None:
        try:
            self._client.update_api_key(
                apiKey=key_id, patchOperations=[{"op": "replace", "path": "/enabled", "value": "false"}]
            )
        except ClientError as exc:
            if _error_code(exc) == "NotFoundException":
                return
            raise StoreUnavailableError("could not disable the usage-plan key") from exc
        except BotoCoreError as exc:
            raise StoreUnavailableError("could not disable the usage-plan key") from exc
