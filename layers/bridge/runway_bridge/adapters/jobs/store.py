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

from runway_bridge.errors import (
    InvalidRequestError,
    RunwayAtCapacityError,
    StoreConditionFailedError,
    StoreUnavailableError,
    TenantAtCapacityError,
    UsageLimitReachedError,
)
from runway_bridge.models.events import EventType
from runway_bridge.models.job import Job, JobStatus, can_transition, is_terminal, status_history_after
from runway_bridge.models.notification import callback_wants
from runway_bridge.models.outbox import OutboxEvent
from runway_bridge.models.records import DeliveryAttempt, EventMarker, JobKind, JobPage, StreamChange
from runway_bridge.models.tenant import DailyUsage, TenantLimits, UsageCharge

JOB_SK: Final = "JOB"
# On job items whose callback asked for `task.progress` (template.yaml filters the relay's stream on it).
PROGRESS_WEBHOOKS_ATTRIBUTE: Final = "progressWebhooks"
EVENT_MARKER_SK: Final = "EVENT"
OUTBOX_SHARDS: Final = 4
# Source-event markers only need to outlive EventBridge's retry window (24 h); keep them a month.
EVENT_MARKER_TTL_S: Final = 30 * 24 * 3600
# A filtered list query may return short pages; read at most this many pages to fill one.
LIST_READ_ROUNDS: Final = 5
BATCH_GET_MAX: Final = 100
# BatchGetItem answers what it could not read (throttling); the client's own retries back off.
BATCH_GET_ROUNDS: Final = 3
BATCH_WRITE_MAX: Final = 25
# Tenant counters beside the jobs (no index attribute, so no index and no stream filter sees them).
TENANT_INFLIGHT_SK: Final = "INFLIGHT"
# A day's counters are kept this long after the day (GET /v1/usage shows today only).
USAGE_DAY_TTL_S: Final = 8 * 24 * 3600
# Tenants with QUEUED jobs: one item each under this partition, so the poller can take turns
# across tenants without scanning (each tenant's queue is its own partition of the due index).
QUEUE_ROSTER_PK: Final = "POLLER#QUEUES"
# The bridge-wide count of jobs holding an in-flight place (all tenants): Runway's concurrency.
RUNWAY_INFLIGHT_KEY: Final = {"pk": "POLLER#CAPACITY", "sk": "INFLIGHT"}


def tenant_pk(tenant_id: str) -> str:
    return f"TENANT#{tenant_id}"


def queue_partition(tenant_id: str) -> str:
    """The due index partition of a tenant's QUEUED jobs (at-Runway jobs use `DUE#<n>`)."""
    return f"QUEUE#{tenant_id}"


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
            item["dueShard"] = self._due_partition(job, job.status)
        if callback_wants(job, EventType.TASK_PROGRESS):
            # Flat, so the relay's stream filter can match it: only these jobs' updates wake the relay.
            item[PROGRESS_WEBHOOKS_ATTRIBUTE] = True
        return item

    def create(self, job: Job, *, limits: TenantLimits | None = None) -> None:
        """Put a new job; with its `charge`, in one transaction with the tenant's day counters
        (refused by `limits`: `UsageLimitReachedError`, nothing written), and a QUEUED job joins
        the queue roster in the same transaction."""
        put = {
            "TableName": self._table,
            "Item": _serialize_item(self.job_item(job)),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
        extras: list[dict[str, Any]] = []
        if job.charge is not None:
            extras.append({"Update": self._charge_update(job.tenant_id, job.charge, limits=limits)})
        if job.status is JobStatus.QUEUED:
            extras.append({"Put": self._roster_put(job.tenant_id)})
        if not extras:
            with _store_errors("could not record the job", refused=f"job {job.job_id} exists"):
                self._client.put_item(**put)
            return
        reasons = self._transact([{"Put": put}, *extras], unavailable="could not record the job")
        if reasons is None:
            return
        if reasons[0] == "ConditionalCheckFailed":
            raise StoreConditionFailedError(f"job {job.job_id} exists")
        if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed" and job.charge is not None:
            raise UsageLimitReachedError(f"tenant {job.tenant_id} reached a daily limit")
        raise StoreConditionFailedError(f"job {job.job_id} could not be recorded ({reasons})")

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
        slot_limit: int | None = None,
        runway_limit: int | None = None,
    ) -> Job:
        """See `logic.ports.JobStore.transition`. Keeps the tenant's counters in step: the move to
        SUBMITTING takes an in-flight place of the tenant (refused past `slot_limit`:
        `TenantAtCapacityError`) and of the bridge (refused past `runway_limit`:
        `RunwayAtCapacityError`); the move back to QUEUED or to an end gives them back, all in one
        transaction with the status."""
        if not can_transition(job.status, new_status):
            raise ValueError(f"{job.status} → {new_status} is not an allowed transition")
        terminal = is_terminal(new_status)
        if terminal and event is None:
            raise ValueError("a terminal status is written with its outbox event")
        all_changes: dict[str, Any] = {**(changes or {}), "status": new_status}
        all_changes["status_history"] = status_history_after(
            job, new_status, all_changes.get("updated_at") or datetime.now(UTC)
        )
        # Finished jobs leave the poller's index.
        removed = remove | ({"next_poll_at"} if terminal else frozenset())
        extras: list[dict[str, Any]] = []
        takes_slot = new_status is JobStatus.SUBMITTING and not job.holds_slot
        gives_slot = job.holds_slot and (terminal or new_status is JobStatus.QUEUED)
        # Runway's place frees as soon as Runway is done with the task (COPYING is the bridge's work).
        gives_runway_slot = job.holds_runway_slot and (
            terminal or new_status in (JobStatus.QUEUED, JobStatus.COPYING)
        )
        if takes_slot:
            all_changes["holds_slot"] = True
            all_changes["holds_runway_slot"] = True
            extras.append({"Update": self._slot_update(job.tenant_id, +1, limit=slot_limit)})
            extras.append({"Update": self._runway_slot_update(+1, limit=runway_limit)})
        if gives_slot:
            removed = removed | {"holds_slot"}
            extras.append({"Update": self._slot_update(job.tenant_id, -1)})
        if gives_runway_slot:
            removed = removed | {"holds_runway_slot"}
            extras.append({"Update": self._runway_slot_update(-1)})
        if terminal and job.runway_task_id is None and job.charge is not None:
            # Never reached Runway (refused, cancelled while queued, inputs expired): give it back.
            extras.append({"Update": self._charge_update(job.tenant_id, job.charge, refund=True)})
        if new_status is JobStatus.QUEUED:
            extras.append({"Put": self._roster_put(job.tenant_id)})
        update = self._update_request(job, all_changes, removed, status=new_status)
        if event is not None:
            extras.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": _serialize_item(self._event_item(event)),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
        if not extras:
            return self._update(job, update)
        reasons = self._transact(
            [{"Update": update}, *extras], unavailable="could not record the job's status"
        )
        if reasons is None:
            return self._applied(job, all_changes, removed)
        if takes_slot and reasons[0] != "ConditionalCheckFailed":
            if reasons[1] == "ConditionalCheckFailed":
                raise TenantAtCapacityError(f"tenant {job.tenant_id} has no in-flight place left")
            if reasons[2] == "ConditionalCheckFailed":
                raise RunwayAtCapacityError("every place at Runway is taken")
        raise StoreConditionFailedError(f"job {job.job_id} changed meanwhile")

    def update(self, job: Job, *, changes: Mapping[str, Any], remove: frozenset[str] = frozenset()) -> Job:
        if "status" in changes:
            raise ValueError("status changes go through transition()")
        return self._update(job, self._update_request(job, changes, remove, status=job.status))

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
        self,
        tenant_id: str,
        *,
        status: JobStatus | None,
        limit: int,
        cursor: str | None,
        operation: str | None = None,
        model: str | None = None,
    ) -> JobPage:
        return self._list(
            "by-tenant",
            "tenantId",
            tenant_id,
            scope=f"t:{tenant_id}",
            status=status,
            limit=limit,
            cursor=cursor,
            kind=JobKind(operation, model),
        )

    def list_by_reference(
        self,
        tenant_id: str,
        reference: str,
        *,
        status: JobStatus | None,
        limit: int,
        cursor: str | None,
        operation: str | None = None,
        model: str | None = None,
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
            kind=JobKind(operation, model),
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
        kind: JobKind,
    ) -> JobPage:
        # The list indexes project no operation or model (a new projection would replace the
        # index), so those filters apply to the jobs read from the table; a cursor is bound to them.
        scope = f"{scope}|s:{status.value if status else ''}{kind.scope}"
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
            # The list indexes project keys and status only (a poll's writes then leave them
            # alone): the page's jobs are read from the table, in the index's order.
            jobs.extend(job for job in self._jobs_in_order(answer.get("Items", [])) if kind.matches(job))
            last_key = answer.get("LastEvaluatedKey")
            if last_key is None or len(jobs) >= limit:
                break
        return JobPage(jobs=jobs, cursor=_encode_cursor(last_key, scope) if last_key else None)

    # --- The poller's view -----------------------------------------------------------------------

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

    def stream_change(self, record: Mapping[str, Any]) -> StreamChange | None:
        """What one record of the table's stream (its JSON, as Lambda receives it) means to the
        relay: an inserted outbox event item, or a job item whose `progress` changed. Images are
        decoded like every item read here (a stored float compares equal to the float written)."""
        change = record.get("dynamodb") or {}
        if not change.get("NewImage"):
            return None
        item = _deserialize_item(change["NewImage"])
        sort_key = str(item.get("sk", ""))
        event_name = record.get("eventName")
        if sort_key.startswith("EVENT#") and event_name == "INSERT":
            return StreamChange(event=_outbox_event(item))
        if sort_key == JOB_SK and event_name == "MODIFY":
            old_progress = _deserialize_item(change.get("OldImage") or {}).get("progress")
            if item.get("progress") is not None and item["progress"] != old_progress:
                return StreamChange(progressed=Job.model_validate(item))
        return None

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
            # The time too: a redelivery starts again at attempt 1 and must not overwrite the first.
            "sk": f"ATTEMPT#{attempt.event_id}#{attempt.number:03d}#{format_time(attempt.at)}",
            "attemptEventId": attempt.event_id,
            "attemptEventType": attempt.event_type,
            "attemptNumber": attempt.number,
            "attemptAt": format_time(attempt.at),
            "url": attempt.url,
            "statusCode": attempt.status_code,
            "latencyMs": attempt.latency_ms,
            "error": attempt.error,
            "outcome": attempt.outcome,
            "answerExcerpt": attempt.answer_excerpt,
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
                answer_excerpt=item.get("answerExcerpt"),
            )
            for item in self._partition(job_pk(job_id))
            if str(item["sk"]).startswith("ATTEMPT#")
        ]
        return sorted(found, key=lambda attempt: (attempt.at, attempt.number))

    # --- Helpers ----------------------------------------------------------------------------

    def _due_shard(self, job_id: str) -> str:
        return f"DUE#{_shard(job_id, self._due_shards)}"

    def _due_partition(self, job: Job, status: JobStatus) -> str:
        """QUEUED jobs wait in their tenant's queue partition, planned apart from jobs at Runway."""
        return queue_partition(job.tenant_id) if status is JobStatus.QUEUED else self._due_shard(job.job_id)

    # --- Tenant counters and the queue roster -------------------------------------------------

    def _slot_update(self, tenant_id: str, delta: int, *, limit: int | None = None) -> dict[str, Any]:
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": _serialize_item({"pk": tenant_pk(tenant_id), "sk": TENANT_INFLIGHT_SK}),
            "UpdateExpression": "ADD inFlight :delta",
            "ExpressionAttributeValues": _serialize_item({":delta": delta}),
        }
        if delta > 0:
            # The limit applied travels with the counter, so the poller can skip a full tenant.
            if limit is None:
                update["UpdateExpression"] += " REMOVE maxInFlight"
            else:
                update["UpdateExpression"] += " SET maxInFlight = :limit"
                update["ConditionExpression"] = "attribute_not_exists(inFlight) OR inFlight < :limit"
                update["ExpressionAttributeValues"] = _serialize_item({":delta": delta, ":limit": limit})
        return update

    def _runway_slot_update(self, delta: int, *, limit: int | None = None) -> dict[str, Any]:
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": _serialize_item(RUNWAY_INFLIGHT_KEY),
            "UpdateExpression": "ADD inFlight :delta",
            "ExpressionAttributeValues": _serialize_item({":delta": delta}),
        }
        if limit is not None and delta > 0:
            update["ConditionExpression"] = "attribute_not_exists(inFlight) OR inFlight < :limit"
            update["ExpressionAttributeValues"] = _serialize_item({":delta": delta, ":limit": limit})
        return update

    def runway_in_flight(self) -> int:
        """Jobs of all tenants holding an in-flight place (sent to Runway, not finished)."""
        with _store_errors("could not read the bridge's in-flight count"):
            answer = self._client.get_item(
                TableName=self._table, Key=_serialize_item(RUNWAY_INFLIGHT_KEY), ConsistentRead=True
            )
        return int(_deserialize_item(answer.get("Item", {})).get("inFlight", 0))

    def _charge_update(
        self, tenant_id: str, charge: UsageCharge, *, limits: TenantLimits | None = None, refund: bool = False
    ) -> dict[str, Any]:
        sign = -1 if refund else 1
        values: dict[str, Any] = {
            ":jobs": sign,
            ":seconds": sign * charge.output_seconds,
            ":credits": Decimal(repr(sign * charge.credits)),
            ":expires": _day_expiry(charge.day),
        }
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": _serialize_item({"pk": tenant_pk(tenant_id), "sk": f"DAY#{charge.day}"}),
            "UpdateExpression": (
                "ADD jobs :jobs, outputSeconds :seconds, credits :credits SET expiresAt = :expires"
            ),
        }
        conditions = []
        if limits is not None and not refund:
            # Each counter after this job stays within its limit (logic checked the job alone fits).
            for counter, limit, amount in (
                ("jobs", limits.max_jobs_per_day, 1),
                ("outputSeconds", limits.max_output_seconds_per_day, charge.output_seconds),
                ("credits", limits.max_credits_per_day, charge.credits),
            ):
                if limit is None:
                    continue
                values[f":max_{counter}"] = Decimal(repr(limit - amount))
                conditions.append(f"(attribute_not_exists({counter}) OR {counter} <= :max_{counter})")
        if conditions:
            update["ConditionExpression"] = " AND ".join(conditions)
        update["ExpressionAttributeValues"] = _serialize_item(values)
        return update

    def _roster_put(self, tenant_id: str) -> dict[str, Any]:
        # Wall-clock time: the poller compares it with its own to tell a queue joined meanwhile.
        return {
            "TableName": self._table,
            "Item": _serialize_item(
                {"pk": QUEUE_ROSTER_PK, "sk": tenant_id, "touchedAt": round(datetime.now(UTC).timestamp(), 3)}
            ),
        }

    def daily_usage(self, tenant_id: str, day: str) -> DailyUsage:
        with _store_errors("could not read the tenant's usage"):
            answer = self._client.get_item(
                TableName=self._table,
                Key=_serialize_item({"pk": tenant_pk(tenant_id), "sk": f"DAY#{day}"}),
                ConsistentRead=True,
            )
        item = _deserialize_item(answer.get("Item", {}))
        return DailyUsage(
            day=day,
            jobs=int(item.get("jobs", 0)),
            output_seconds=int(item.get("outputSeconds", 0)),
            credits=float(item.get("credits", 0.0)),
        )

    def in_flight(self, tenant_id: str) -> int:
        with _store_errors("could not read the tenant's usage"):
            answer = self._client.get_item(
                TableName=self._table,
                Key=_serialize_item({"pk": tenant_pk(tenant_id), "sk": TENANT_INFLIGHT_SK}),
                ConsistentRead=True,
            )
        return int(_deserialize_item(answer.get("Item", {})).get("inFlight", 0))

    def queued_count(self, tenant_id: str, *, at_most: int | None = None) -> int:
        """How many of the tenant's jobs wait QUEUED (due or not), counting no further than `at_most`."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "due",
            "KeyConditionExpression": "dueShard = :queue",
            "ExpressionAttributeValues": _serialize_item({":queue": queue_partition(tenant_id)}),
            "Select": "COUNT",
        }
        if at_most is not None:
            request["Limit"] = at_most
        count = 0
        while at_most is None or count < at_most:
            with _store_errors("could not count the tenant's queue"):
                answer = self._client.query(**request)
            count += int(answer.get("Count", 0))
            if "LastEvaluatedKey" not in answer:
                return count
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        return count

    def _transact(self, items: list[dict[str, Any]], *, unavailable: str) -> list[str] | None:
        """One TransactWriteItems; None when written, else each item's cancellation code."""
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if _error_code(exc) == "TransactionCanceledException":
                reasons = exc.response.get("CancellationReasons") or []
                codes = [str(reason.get("Code", "None")) for reason in reasons]
                return codes + ["None"] * (len(items) - len(codes))
            raise StoreUnavailableError(unavailable) from exc
        except BotoCoreError as exc:
            raise StoreUnavailableError(unavailable) from exc
        return None

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
        self, job: Job, changes: Mapping[str, Any], remove: frozenset[str], *, status: JobStatus
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
        if not is_terminal(status):
            values[":due"] = self._due_partition(job, status)
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
        # A removed attribute reads back as the field's default (None, False, ...).
        update.update(
            {name: Job.model_fields[name].get_default(call_default_factory=True) for name in removed}
        )
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

    def _jobs_in_order(self, index_items: list[dict[str, Any]]) -> list[Job]:
        """The JOB items named by `index_items` (pk/sk), read in batches, in the same order; an
        item deleted since the index listed it is left out."""
        keys = [{"pk": item["pk"], "sk": item["sk"]} for item in index_items]
        items, complete = batch_get_items(self._client, self._table, keys, failure="could not list jobs")
        if not complete:
            raise StoreUnavailableError("could not list jobs (reads throttled)")
        found = {(item["pk"]["S"], item["sk"]["S"]): item for item in items}
        ordered = [found.get((key["pk"]["S"], key["sk"]["S"])) for key in keys]
        return [Job.model_validate(_deserialize_item(item)) for item in ordered if item is not None]

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


def batch_get_items(
    client: Any, table: str, keys: list[dict[str, Any]], *, failure: str, consistent: bool = False
) -> tuple[list[dict[str, Any]], bool]:
    """The items of `table` under `keys` (serialized), read `BATCH_GET_MAX` at a time; keys
    DynamoDB leaves unprocessed (throttling) are asked again up to `BATCH_GET_ROUNDS` times (the
    client's own retries back off). Returns the items found, in no order, and whether every key was
    read; `StoreUnavailableError(failure)` when a read fails."""
    found: list[dict[str, Any]] = []
    complete = True
    for start in range(0, len(keys), BATCH_GET_MAX):
        batch: dict[str, Any] = {"Keys": keys[start : start + BATCH_GET_MAX]}
        if consistent:
            batch["ConsistentRead"] = True
        pending: dict[str, Any] = {table: batch}
        for _ in range(BATCH_GET_ROUNDS):
            try:
                answer = client.batch_get_item(RequestItems=pending)
            except (BotoCoreError, ClientError) as exc:
                raise StoreUnavailableError(failure) from exc
            found.extend(answer.get("Responses", {}).get(table, []))
            pending = answer.get("UnprocessedKeys") or {}
            if not pending:
                break
        complete = complete and not pending
    return found, complete


def _day_expiry(day: str) -> int:
    start = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC)
    return int(start.timestamp()) + USAGE_DAY_TTL_S


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
