"""The jobs table in DynamoDB (layout: docs/job-model.md).

Every write is conditional. A status change names the status and version it replaces; a terminal
status and its outbox event go in one TransactWriteItems, so there is exactly one of each per job.
Index attributes are derived here, never by logic/: `tenantReference` (by-reference) at create,
`dueShard` (due) while the job is unfinished, `pendingShard` (outbox-pending) on new events.
Outbox event items carry the tenant as `eventTenantId`, not `tenantId`, so they stay out of the
by-tenant index that lists jobs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Final

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel

from runway_bridge.errors import InvalidRequestError, StoreConditionFailedError, StoreUnavailableError
from runway_bridge.logic.ports import DeliveryAttempt, EventMarker, JobPage
from runway_bridge.models.job import Job, JobStatus, can_transition, is_terminal
from runway_bridge.models.notification import TASK_PROGRESS, callback_wants
from runway_bridge.models.outbox import OutboxEvent

JOB_SK: Final = "JOB"
# On job items whose callback asked for `task.progress` (template.yaml filters the relay's stream on it).
PROGRESS_WEBHOOKS_ATTRIBUTE: Final = "progressWebhooks"
EVENT_MARKER_SK: Final = "EVENT"
OUTBOX_SHARDS: Final = 4
# Source-event markers only need to outlive EventBridge's retry window (24 h); keep them a month.
EVENT_MARKER_TTL_S: Final = 30 * 24 * 3600
# A filtered list query may return short pages; read at most this many pages to fill one.
LIST_READ_ROUNDS: Final = 5
BATCH_WRITE_MAX: Final = 25

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def job_pk(job_id: str) -> str:
    return f"JOB#{job_id}"


def format_time(value: datetime) -> str:
    """Fixed-width UTC timestamps, so string order is time order in the indexes."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _shard(value: str, shards: int) -> int:
    return int(hashlib.sha256(value.encode()).hexdigest(), 16) % max(shards, 1)


def to_dynamo(value: Any) -> Any:
    """Python/pydantic values → what TypeSerializer takes (no floats: Decimal; times: strings)."""
    if isinstance(value, BaseModel):
        return to_dynamo(value.model_dump(mode="python", by_alias=True, exclude_none=True))
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, bool) or value is None or isinstance(value, str | int | Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Mapping):
        return {str(key): to_dynamo(item) for key, item in value.items() if item is not None}
    if isinstance(value, list | tuple):
        return [to_dynamo(item) for item in value]
    raise TypeError(f"cannot store {type(value).__name__} in DynamoDB")


def from_dynamo(value: Any) -> Any:
    """Deserialized DynamoDB values → plain JSON types (Decimal → int when integral, else float)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: from_dynamo(item) for key, item in value.items()}
    if isinstance(value, list | set):
        return [from_dynamo(item) for item in value]
    return value


def _serialize_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(to_dynamo(value)) for key, value in item.items() if value is not None}


def _deserialize_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: from_dynamo(_deserializer.deserialize(value)) for key, value in item.items()}


def _alias(field_name: str) -> str:
    info = Job.model_fields.get(field_name)
    if info is None:
        raise ValueError(f"Job has no field {field_name!r}")
    return info.alias or field_name


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@contextmanager
def _store_errors(unavailable: str, *, refused: str = "condition refused") -> Iterator[None]:
    """botocore errors as the store's typed errors: a refused condition → StoreConditionFailedError
    (`refused`), anything else → StoreUnavailableError (`unavailable`)."""
    try:
        yield
    except ClientError as exc:
        if _error_code(exc) == "ConditionalCheckFailedException":
            raise StoreConditionFailedError(refused) from exc
        raise StoreUnavailableError(unavailable) from exc
    except BotoCoreError as exc:
        raise StoreUnavailableError(unavailable) from exc


class DynamoJobStore:
    """`JobStore` over the low-level DynamoDB client (`logic.ports.JobStore` documents the contract)."""

    def __init__(self, client: Any, table_name: str, *, due_shards: int = 4) -> None:
        self._client = client
        self._table = table_name
        self._due_shards = due_shards

    # --- Jobs -------------------------------------------------------------------------------

    def job_item(self, job: Job) -> dict[str, Any]:
        item = job.model_dump(mode="python", by_alias=True, exclude_none=True)
        item.update(pk=job_pk(job.job_id), sk=JOB_SK)
        if job.bridge.reference is not None:
            item["tenantReference"] = f"{job.tenant_id}#{job.bridge.reference}"
        if not is_terminal(job.status) and job.next_poll_at is not None:
            item["dueShard"] = self._due_shard(job.job_id)
        if callback_wants(job, TASK_PROGRESS):
            # Flat, so the relay's stream filter can match it: only these jobs' updates wake the relay.
            item[PROGRESS_WEBHOOKS_ATTRIBUTE] = True
        return item

    def create(self, job: Job) -> None:
        with _store_errors("could not record the job", refused=f"job {job.job_id} exists"):
            self._client.put_item(
                TableName=self._table,
                Item=_serialize_item(self.job_item(job)),
                ConditionExpression="attribute_not_exists(pk)",
            )

    def get(self, job_id: str) -> Job | None:
        try:
            answer = self._client.get_item(
                TableName=self._table,
                Key=_serialize_item({"pk": job_pk(job_id), "sk": JOB_SK}),
                ConsistentRead=True,
            )
        except (BotoCoreError, ClientError) as exc:
            raise StoreUnavailableError("could not read the job") from exc
        item = answer.get("Item")
        return Job.model_validate(_deserialize_item(item)) if item else None

    def transition(
        self,
        job: Job,
        new_status: JobStatus,
        *,
        changes: Mapping[str, Any] | None = None,
        remove: frozenset[str] = frozenset(),
        event: OutboxEvent | None = None,
    ) -> Job:
        if not can_transition(job.status, new_status):
            raise ValueError(f"{job.status} → {new_status} is not an allowed transition")
        terminal = is_terminal(new_status)
        if terminal and event is None:
            raise ValueError("a terminal status is written with its outbox event")
        all_changes = {**(changes or {}), "status": new_status}
        # Finished jobs leave the poller's index.
        removed = remove | ({"next_poll_at"} if terminal else frozenset())
        update = self._update_request(job, all_changes, removed, due=not terminal)
        if event is None:
            return self._update(job, update)
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {"Update": update},
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": _serialize_item(self._event_item(event)),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
        except ClientError as exc:
            if _error_code(exc) == "TransactionCanceledException":
                raise StoreConditionFailedError(f"job {job.job_id} changed meanwhile") from exc
            raise StoreUnavailableError("could not record the job's status") from exc
        except BotoCoreError as exc:
            raise StoreUnavailableError("could not record the job's status") from exc
        return self._applied(job, all_changes, removed)

    def update(self, job: Job, *, changes: Mapping[str, Any], remove: frozenset[str] = frozenset()) -> Job:
        if "status" in changes:
            raise ValueError("status changes go through transition()")
        return self._update(job, self._update_request(job, changes, remove, due=not job.is_terminal))

    def delete(self, job: Job) -> None:
        pk = job_pk(job.job_id)
        with _store_errors("could not delete the job", refused=f"job {job.job_id} changed meanwhile"):
            self._client.delete_item(
                TableName=self._table,
                Key=_serialize_item({"pk": pk, "sk": JOB_SK}),
                ConditionExpression="#version = :version",
                ExpressionAttributeNames={"#version": "version"},
                ExpressionAttributeValues=_serialize_item({":version": job.version}),
            )
        # Delivery attempts and published events go with it; unpublished events stay for the relay.
        leftovers = [
            item for item in self._partition(pk) if item["sk"] != JOB_SK and "pendingShard" not in item
        ]
        self._batch_delete([{"pk": item["pk"], "sk": item["sk"]} for item in leftovers])

    # --- Lists ------------------------------------------------------------------------------

    def list_by_tenant(
        self, tenant_id: str, *, status: JobStatus | None, limit: int, cursor: str | None
    ) -> JobPage:
        return self._list(
            "by-tenant",
            "tenantId",
            tenant_id,
            scope=f"t:{tenant_id}",
            status=status,
            limit=limit,
            cursor=cursor,
        )

    def list_by_reference(
        self, tenant_id: str, reference: str, *, status: JobStatus | None, limit: int, cursor: str | None
    ) -> JobPage:
        value = f"{tenant_id}#{reference}"
        return self._list(
            "by-reference",
            "tenantReference",
            value,
            scope=f"r:{value}",
            status=status,
            limit=limit,
            cursor=cursor,
        )

    def _list(
        self,
        index: str,
        key_name: str,
        key_value: str,
        *,
        scope: str,
        status: JobStatus | None,
        limit: int,
        cursor: str | None,
    ) -> JobPage:
        scope = f"{scope}|s:{status.value if status else ''}"
        start_key = _decode_cursor(cursor, scope) if cursor else None
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": "#key = :key",
            "FilterExpression": "sk = :job" + (" AND #status = :status" if status else ""),
            "ExpressionAttributeNames": {"#key": key_name, **({"#status": "status"} if status else {})},
            "ExpressionAttributeValues": _serialize_item(
                {":key": key_value, ":job": JOB_SK, **({":status": status.value} if status else {})}
            ),
            "ScanIndexForward": False,  # newest first
        }
        jobs: list[Job] = []
        last_key: dict[str, Any] | None = start_key
        for _ in range(LIST_READ_ROUNDS):
            request["Limit"] = limit - len(jobs)
            if last_key is not None:
                request["ExclusiveStartKey"] = last_key
            try:
                answer = self._client.query(**request)
            except ClientError as exc:
                if _error_code(exc) == "ValidationException" and cursor:
                    raise InvalidRequestError("cursor: not valid for this query") from exc
                raise StoreUnavailableError("could not list jobs") from exc
            except BotoCoreError as exc:
                raise StoreUnavailableError("could not list jobs") from exc
            jobs.extend(Job.model_validate(_deserialize_item(item)) for item in answer.get("Items", []))
            last_key = answer.get("LastEvaluatedKey")
            if last_key is None or len(jobs) >= limit:
                break
        return JobPage(jobs=jobs, cursor=_encode_cursor(last_key, scope) if last_key else None)

    # --- Leases and the poller's view (issue 5) ----------------------------------------------

    def take_lease(self, job_id: str, owner: str, *, now: float, lease_s: float) -> Job | None:
        try:
            with _store_errors("could not take the job's lease"):
                answer = self._client.update_item(
                    TableName=self._table,
                    Key=_serialize_item({"pk": job_pk(job_id), "sk": JOB_SK}),
                    UpdateExpression="SET leaseOwner = :owner, leaseExpiresAt = :expires",
                    ConditionExpression=(
                        "attribute_exists(pk) AND (attribute_not_exists(leaseOwner) OR leaseExpiresAt < :now)"
                    ),
                    ExpressionAttributeValues=_serialize_item(
                        {":owner": owner, ":expires": now + lease_s, ":now": now}
                    ),
                    ReturnValues="ALL_NEW",
                )
        except StoreConditionFailedError:
            return None  # held by a live lease, or the job is gone
        return Job.model_validate(_deserialize_item(answer["Attributes"]))

    def release_lease(self, job: Job, owner: str) -> None:
        try:
            with _store_errors("could not release the job's lease"):
                self._client.update_item(
                    TableName=self._table,
                    Key=_serialize_item({"pk": job_pk(job.job_id), "sk": JOB_SK}),
                    UpdateExpression="REMOVE leaseOwner, leaseExpiresAt",
                    ConditionExpression="leaseOwner = :owner",
                    ExpressionAttributeValues=_serialize_item({":owner": owner}),
                )
        except StoreConditionFailedError:
            return  # expired and taken by someone else: theirs now

    def due_job_ids(self, *, now: float, limit: int) -> list[str]:
        job_ids: list[str] = []
        for shard in range(self._due_shards):
            request: dict[str, Any] = {
                "TableName": self._table,
                "IndexName": "due",
                "KeyConditionExpression": "dueShard = :shard AND nextPollAt <= :now",
                "ExpressionAttributeValues": _serialize_item({":shard": f"DUE#{shard}", ":now": now}),
            }
            for item in self._paginate(request, limit - len(job_ids)):
                job_ids.append(str(item["pk"]).removeprefix("JOB#"))
            if len(job_ids) >= limit:
                break
        return job_ids

    # --- Source-event markers ---------------------------------------------------------------

    def record_event(self, marker: EventMarker) -> bool:
        item = {
            "pk": f"EVENT#{marker.event_id}",
            "sk": EVENT_MARKER_SK,
            "jobId": marker.job_id,
            "rejectionCode": marker.rejection_code,
            "rejectionReason": marker.rejection_reason,
            "expiresAt": int(datetime.now(UTC).timestamp()) + EVENT_MARKER_TTL_S,
        }
        try:
            with _store_errors("could not record the event"):
                self._client.put_item(
                    TableName=self._table,
                    Item=_serialize_item(item),
                    ConditionExpression="attribute_not_exists(pk)",
                )
        except StoreConditionFailedError:
            return False  # seen before: the event was delivered again
        return True

    def get_event(self, event_id: str) -> EventMarker | None:
        try:
            answer = self._client.get_item(
                TableName=self._table,
                Key=_serialize_item({"pk": f"EVENT#{event_id}", "sk": EVENT_MARKER_SK}),
                ConsistentRead=True,
            )
        except (BotoCoreError, ClientError) as exc:
            raise StoreUnavailableError("could not read the event marker") from exc
        if "Item" not in answer:
            return None
        item = _deserialize_item(answer["Item"])
        return EventMarker(
            event_id=event_id,
            job_id=item.get("jobId"),
            rejection_code=item.get("rejectionCode"),
            rejection_reason=item.get("rejectionReason"),
        )

    def outbox_events(self, job_id: str) -> list[OutboxEvent]:
        """The job's outbox events (for the relay, and for tests that check "exactly one")."""
        return [
            _outbox_event(item)
            for item in self._partition(job_pk(job_id))
            if str(item["sk"]).startswith("EVENT#")
        ]

    def get_outbox_event(self, job_id: str, event_id: str) -> OutboxEvent | None:
        with _store_errors("could not read the outbox event"):
            answer = self._client.get_item(
                TableName=self._table,
                Key=_serialize_item({"pk": job_pk(job_id), "sk": f"EVENT#{event_id}"}),
                ConsistentRead=True,
            )
        item = answer.get("Item")
        return _outbox_event(_deserialize_item(item)) if item else None

    def mark_published(self, event: OutboxEvent, *, at: datetime) -> None:
        """The relay has fanned the event out: it leaves the `outbox-pending` index. An event whose
        item is gone (its finished job was deleted meanwhile) has nothing left to mark."""
        try:
            with _store_errors("could not mark the event published"):
                self._client.update_item(
                    TableName=self._table,
                    Key=_serialize_item({"pk": job_pk(event.job_id), "sk": f"EVENT#{event.event_id}"}),
                    UpdateExpression="SET publishedAt = :at REMOVE pendingShard",
                    ConditionExpression="attribute_exists(pk)",
                    ExpressionAttributeValues=_serialize_item({":at": format_time(at)}),
                )
        except StoreConditionFailedError:
            return

    def pending_events(self, *, created_before: datetime, limit: int) -> list[OutboxEvent]:
        """Events not yet marked published, oldest first (the relay's safety-net sweep)."""
        events: list[OutboxEvent] = []
        for shard in range(OUTBOX_SHARDS):
            request = {
                "TableName": self._table,
                "IndexName": "outbox-pending",
                "KeyConditionExpression": "pendingShard = :shard AND createdAt < :before",
                "ExpressionAttributeValues": _serialize_item(
                    {":shard": f"PENDING#{shard}", ":before": format_time(created_before)}
                ),
            }
            # The index projects every attribute (template.yaml), so its items are whole events.
            events.extend(_outbox_event(item) for item in self._paginate(request, limit - len(events)))
            if len(events) >= limit:
                break
        return events

    def record_attempt(self, job_id: str, attempt: DeliveryAttempt) -> None:
        item = {
            "pk": job_pk(job_id),
            "sk": f"ATTEMPT#{attempt.event_id}#{attempt.number:03d}",
            "attemptEventId": attempt.event_id,
            "attemptEventType": attempt.event_type,
            "attemptNumber": attempt.number,
            "attemptAt": format_time(attempt.at),
            "url": attempt.url,
            "statusCode": attempt.status_code,
            "latencyMs": attempt.latency_ms,
            "error": attempt.error,
            "outcome": attempt.outcome,
        }
        with _store_errors("could not record the delivery attempt"):
            self._client.put_item(
                TableName=self._table, Item=_serialize_item({k: v for k, v in item.items() if v is not None})
            )

    def attempts(self, job_id: str) -> list[DeliveryAttempt]:
        found = [
            DeliveryAttempt(
                event_id=str(item["attemptEventId"]),
                event_type=str(item["attemptEventType"]),
                number=int(item["attemptNumber"]),
                at=datetime.fromisoformat(str(item["attemptAt"])),
                url=str(item.get("url", "")),
                status_code=int(item["statusCode"]) if item.get("statusCode") is not None else None,
                latency_ms=int(item.get("latencyMs", 0)),
                error=item.get("error"),
                outcome=str(item.get("outcome", "")),
            )
            for item in self._partition(job_pk(job_id))
            if str(item["sk"]).startswith("ATTEMPT#")
        ]
        return sorted(found, key=lambda attempt: (attempt.at, attempt.number))

    # --- Helpers ----------------------------------------------------------------------------

    def _due_shard(self, job_id: str) -> str:
        return f"DUE#{_shard(job_id, self._due_shards)}"

    def _event_item(self, event: OutboxEvent) -> dict[str, Any]:
        return {
            "pk": job_pk(event.job_id),
            "sk": f"EVENT#{event.event_id}",
            "eventId": event.event_id,
            "type": event.type,
            "jobId": event.job_id,
            "eventTenantId": event.tenant_id,
            "createdAt": event.created_at,
            "payload": event.payload,
            "pendingShard": f"PENDING#{_shard(event.event_id, OUTBOX_SHARDS)}",
        }

    def _update_request(
        self, job: Job, changes: Mapping[str, Any], remove: frozenset[str], *, due: bool
    ) -> dict[str, Any]:
        names: dict[str, str] = {"#version": "version"}
        values: dict[str, Any] = {":version": job.version, ":next_version": job.version + 1}
        sets = ["#version = :next_version"]
        removes: list[str] = []
        for index, (field, value) in enumerate(changes.items()):
            name = _alias(field)
            names[f"#f{index}"] = name
            if value is None:
                removes.append(f"#f{index}")
            else:
                values[f":v{index}"] = value
                sets.append(f"#f{index} = :v{index}")
        for index, field in enumerate(sorted(remove)):
            names[f"#r{index}"] = _alias(field)
            removes.append(f"#r{index}")
        names["#dueShard"] = "dueShard"
        if due:
            values[":due"] = self._due_shard(job.job_id)
            sets.append("#dueShard = :due")
        else:
            removes.append("#dueShard")
        names["#status"] = "status"
        values[":expected"] = job.status.value
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        return {
            "TableName": self._table,
            "Key": _serialize_item({"pk": job_pk(job.job_id), "sk": JOB_SK}),
            "UpdateExpression": expression,
            "ConditionExpression": "#status = :expected AND #version = :version",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": _serialize_item(values),
        }

    def _update(self, job: Job, update: Mapping[str, Any]) -> Job:
        with _store_errors("could not update the job", refused=f"job {job.job_id} changed meanwhile"):
            answer = self._client.update_item(**update, ReturnValues="ALL_NEW")
        return Job.model_validate(_deserialize_item(answer["Attributes"]))

    @staticmethod
    def _applied(job: Job, changes: Mapping[str, Any], removed: frozenset[str]) -> Job:
        update = dict(changes)
        update.update(dict.fromkeys(removed))
        update["version"] = job.version + 1
        return Job.model_validate({**job.model_dump(), **update})

    def _partition(self, pk: str) -> Iterator[dict[str, Any]]:
        request = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": _serialize_item({":pk": pk}),
            "ConsistentRead": True,
        }
        yield from self._paginate(request, None)

    def _paginate(self, request: dict[str, Any], limit: int | None) -> Iterator[dict[str, Any]]:
        count = 0
        while True:
            try:
                answer = self._client.query(**request)
            except (BotoCoreError, ClientError) as exc:
                raise StoreUnavailableError("could not query the jobs table") from exc
            for item in answer.get("Items", []):
                yield _deserialize_item(item)
                count += 1
                if limit is not None and count >= limit:
                    return
            if "LastEvaluatedKey" not in answer:
                return
            request = {**request, "ExclusiveStartKey": answer["LastEvaluatedKey"]}

    def _batch_delete(self, keys: list[dict[str, Any]]) -> None:
        for start in range(0, len(keys), BATCH_WRITE_MAX):
            requests = [
                {"DeleteRequest": {"Key": _serialize_item(key)}}
                for key in keys[start : start + BATCH_WRITE_MAX]
            ]
            try:
                answer = self._client.batch_write_item(RequestItems={self._table: requests})
                # Unprocessed items are rare (throttling); one more try, then leave them (harmless).
                if answer.get("UnprocessedItems"):
                    self._client.batch_write_item(RequestItems=answer["UnprocessedItems"])
            except (BotoCoreError, ClientError) as exc:
                raise StoreUnavailableError("could not delete the job's items") from exc


def _outbox_event(item: Mapping[str, Any]) -> OutboxEvent:
    return OutboxEvent(
        event_id=item["eventId"],
        type=item["type"],
        job_id=item["jobId"],
        tenant_id=item["eventTenantId"],
        created_at=item["createdAt"],
        payload=item.get("payload", {}),
    )


def _encode_cursor(last_key: Mapping[str, Any], scope: str) -> str:
    payload = json.dumps({"scope": scope, "key": last_key}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, scope: str) -> dict[str, Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidRequestError("cursor: not a cursor this API returned") from None
    if (
        not isinstance(payload, dict)
        or payload.get("scope") != scope
        or not isinstance(payload.get("key"), dict)
    ):
        # A cursor only continues the query (tenant, reference, status) that produced it.
        raise InvalidRequestError("cursor: does not belong to this query")
    key: dict[str, Any] = payload["key"]
    return key
