"""The poller's own items in the jobs table, and starting a poller run from the submit path.

Two small items live beside the jobs (they carry no index attributes, so no index sees them):

- `POLLER#RUN` / `RUN`: the run that is looping now (`runId`, `expiresAt`). Each round refreshes it;
  the submit path starts a run only when it can claim it, so a new job's first poll never waits for
  the next minute tick, yet a busy minute does not start one run per submit.
- `POLLER#CAPACITY` / `RUNWAY`: `blockedUntil`, set when Runway answered a deferred create with 429
  (one 429 says the others would get one too), and `busyUntil`, set while Runway holds a task
  THROTTLED (its capacity is full); until the later of the two no new create is sent.
- `POLLER#QUEUES` / `<tenantId>`: the queue roster (written by the job store whenever a job becomes
  QUEUED): which tenants' queue partitions (`QUEUE#<tenantId>` in the due index) to read. A round
  drops a tenant whose queue it found empty, unless a job joined it meanwhile.
- `TENANT#<tenantId>` / `INFLIGHT`: `inFlight` and the `maxInFlight` last applied (job store), so a
  round skips tenants whose places are all taken.
- `POLLER#PRIOR` / `<model>|<short|long>`: how long that kind of task took from submit to Runway's
  finish, as counts per duration bucket (`b<index>`, added atomically when a task is seen done):
  the polling policy's learned prior. Read at most once a minute per process.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Final

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import BotoCoreError, ClientError

from runway_bridge.adapters.jobs.store import (
    QUEUE_ROSTER_PK,
    TENANT_INFLIGHT_SK,
    batch_get_items,
    queue_partition,
    tenant_pk,
)
from runway_bridge.errors import PollerStartError, StoreUnavailableError
from runway_bridge.observability import logger

RUN_KEY: Final = {"pk": {"S": "POLLER#RUN"}, "sk": {"S": "RUN"}}
PRIOR_PK: Final = "POLLER#PRIOR"
# Learned duration counts are read again after this long (they change slowly).
PRIOR_CACHE_S: Final = 60.0
CAPACITY_KEY: Final = {"pk": {"S": "POLLER#CAPACITY"}, "sk": {"S": "RUNWAY"}}
# Writers' clocks may differ by this much: a roster entry touched this close to a read is kept.
ROSTER_SKEW_S: Final = 2.0

_deserializer = TypeDeserializer()


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _number(value: float) -> dict[str, str]:
    return {"N": repr(round(value, 3))}


class DynamoPollerState:
    """`logic.poller.PollerState` over the low-level DynamoDB client."""

    def __init__(self, client: Any, table_name: str, *, due_shards: int = 4) -> None:
        self._client = client
        self._table = table_name
        self._due_shards = due_shards
        self._priors: dict[str, tuple[float, dict[int, int]]] = {}

    # --- learned task durations ---------------------------------------------------------------

    def duration_counts(self, key: str) -> dict[int, int]:
        """Finished tasks of kind `key` per duration bucket (cached for `PRIOR_CACHE_S`); empty
        when none is recorded or the table cannot be read (the model table's prior is used)."""
        cached = self._priors.get(key)
        if cached is not None and time.monotonic() - cached[0] < PRIOR_CACHE_S:
            return cached[1]
        try:
            item = self._client.get_item(
                TableName=self._table, Key={"pk": {"S": PRIOR_PK}, "sk": {"S": key}}
            ).get("Item", {})
        except (BotoCoreError, ClientError):
            logger.warning("could not read a learned prior", extra={"prior": key})
            return cached[1] if cached is not None else {}
        counts = {int(name[1:]): int(value["N"]) for name, value in item.items() if name.startswith("b")}
        self._priors[key] = (time.monotonic(), counts)
        return counts

    def record_duration(self, key: str, bucket: int) -> None:
        """Count one finished task of kind `key` in `bucket` (an atomic add; a lost count is harmless)."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": PRIOR_PK}, "sk": {"S": key}},
                UpdateExpression="ADD #bucket :one",
                ExpressionAttributeNames={"#bucket": f"b{bucket}"},
                ExpressionAttributeValues={":one": {"N": "1"}},
            )
        except (BotoCoreError, ClientError):
            logger.warning("could not record a task's duration", extra={"prior": key})

    # --- the run marker ---------------------------------------------------------------------

    def claim_run(self, run_id: str, *, now: float, hold_s: float) -> bool:
        """Hold the marker for `run_id` until `now + hold_s` if it is free, expired, or already
        `run_id`'s; False if another live run holds it."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=RUN_KEY,
                UpdateExpression="SET runId = :run, expiresAt = :expires",
                ConditionExpression="attribute_not_exists(pk) OR expiresAt < :now OR runId = :run",
                ExpressionAttributeValues={
                    ":run": {"S": run_id},
                    ":expires": _number(now + hold_s),
                    ":now": _number(now),
                },
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                return False
            raise StoreUnavailableError("could not claim the poller run marker") from exc
        except BotoCoreError as exc:
            raise StoreUnavailableError("could not claim the poller run marker") from exc
        return True

    def release_run(self, run_id: str) -> None:
        """Drop the marker if `run_id` still holds it."""
        try:
            self._client.delete_item(
                TableName=self._table,
                Key=RUN_KEY,
                ConditionExpression="runId = :run",
                ExpressionAttributeValues={":run": {"S": run_id}},
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                return  # another run holds it now
            raise StoreUnavailableError("could not release the poller run marker") from exc
        except BotoCoreError as exc:
            raise StoreUnavailableError("could not release the poller run marker") from exc

    # --- Runway capacity --------------------------------------------------------------------

    def runway_blocked_until(self) -> float:
        item = self._get(CAPACITY_KEY)
        return float(item.get("blockedUntil", 0)) if item else 0.0

    def runway_held_until(self) -> float:
        """The later of `blockedUntil` (429) and `busyUntil` (THROTTLED tasks)."""
        item = self._get(CAPACITY_KEY) or {}
        return max(float(item.get("blockedUntil", 0)), float(item.get("busyUntil", 0)))

    def block_runway_until(self, until: float) -> None:
        self._raise_mark("blockedUntil", until, "could not record Runway's rate limit")

    def hold_runway_until(self, until: float) -> None:
        self._raise_mark("busyUntil", until, "could not record that Runway is busy")

    def _raise_mark(self, name: str, until: float, failure: str) -> None:
        """Move a capacity mark later (never earlier: two workers may write at once)."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=CAPACITY_KEY,
                UpdateExpression="SET #mark = :until",
                ConditionExpression="attribute_not_exists(#mark) OR #mark < :until",
                ExpressionAttributeNames={"#mark": name},
                ExpressionAttributeValues={":until": _number(until)},
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                return
            raise StoreUnavailableError(failure) from exc
        except BotoCoreError as exc:
            raise StoreUnavailableError(failure) from exc

    # --- the tenants' queues ------------------------------------------------------------------

    def queued_tenants(self) -> list[str]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :roster",
            "ExpressionAttributeValues": {":roster": {"S": QUEUE_ROSTER_PK}},
            "ConsistentRead": True,
        }
        tenants: list[str] = []
        while True:
            try:
                answer = self._client.query(**request)
            except (BotoCoreError, ClientError) as exc:
                raise StoreUnavailableError("could not read the queue roster") from exc
            tenants.extend(item["sk"]["S"] for item in answer.get("Items", []))
            if "LastEvaluatedKey" not in answer:
                return tenants
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def queue_head(self, tenant_id: str, *, limit: int) -> tuple[list[tuple[str, float]], float]:
        """The first `limit` (job id, nextPollAt) of the tenant's queue, earliest first, and the
        wall-clock time of the read (less a margin for clock skew between writers), for
        `forget_queue`."""
        read_at = time.time() - ROSTER_SKEW_S
        try:
            answer = self._client.query(
                TableName=self._table,
                IndexName="due",
                KeyConditionExpression="dueShard = :queue",
                ExpressionAttributeValues={":queue": {"S": queue_partition(tenant_id)}},
                ScanIndexForward=True,
                Limit=limit,
            )
        except (BotoCoreError, ClientError) as exc:
            raise StoreUnavailableError("could not read a tenant's queue") from exc
        head = [
            (item["pk"]["S"].removeprefix("JOB#"), float(item["nextPollAt"]["N"]))
            for item in answer.get("Items", [])
        ]
        return head, read_at

    def forget_queue(self, tenant_id: str, *, unless_touched_since: float) -> None:
        """Drop the tenant from the roster, unless a job joined its queue since the given time
        (a `queue_head` read time)."""
        try:
            self._client.delete_item(
                TableName=self._table,
                Key={"pk": {"S": QUEUE_ROSTER_PK}, "sk": {"S": tenant_id}},
                ConditionExpression="touchedAt < :since",
                ExpressionAttributeValues={":since": _number(unless_touched_since)},
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                return
            raise StoreUnavailableError("could not update the queue roster") from exc
        except BotoCoreError as exc:
            raise StoreUnavailableError("could not update the queue roster") from exc

    def in_flight(self, tenant_ids: Sequence[str]) -> dict[str, tuple[int, int | None]]:
        """Tenant -> (jobs in flight, its in-flight limit or None), for tenants that ever sent one."""
        keys = [{"pk": {"S": tenant_pk(tenant)}, "sk": {"S": TENANT_INFLIGHT_SK}} for tenant in tenant_ids]
        # A counter still unread after the retries counts as none: the tenant is looked at next round.
        items, _ = batch_get_items(
            self._client, self._table, keys, failure="could not read in-flight counters", consistent=True
        )
        found: dict[str, tuple[int, int | None]] = {}
        for item in items:
            tenant = item["pk"]["S"].removeprefix("TENANT#")
            used = int(float(item.get("inFlight", {}).get("N", "0")))
            limit = int(float(item["maxInFlight"]["N"])) if "maxInFlight" in item else None
            found[tenant] = (used, limit)
        return found

    # --- what is due ------------------------------------------------------------------------

    def earliest_due_at(self) -> float | None:
        """The smallest `nextPollAt` of any unfinished job (None when there is none)."""
        earliest: float | None = None
        for shard in range(self._due_shards):
            try:
                answer = self._client.query(
                    TableName=self._table,
                    IndexName="due",
                    KeyConditionExpression="dueShard = :shard",
                    ExpressionAttributeValues={":shard": {"S": f"DUE#{shard}"}},
                    ScanIndexForward=True,
                    Limit=1,
                )
            except (BotoCoreError, ClientError) as exc:
                raise StoreUnavailableError("could not query the due index") from exc
            for item in answer.get("Items", []):
                if "nextPollAt" in item:
                    value = float(item["nextPollAt"]["N"])
                    earliest = value if earliest is None else min(earliest, value)
        return earliest

    def _get(self, key: dict[str, Any]) -> dict[str, Any] | None:
        try:
            answer = self._client.get_item(TableName=self._table, Key=key, ConsistentRead=True)
        except (BotoCoreError, ClientError) as exc:
            raise StoreUnavailableError("could not read the poller's state") from exc
        item = answer.get("Item")
        if not item:
            return None
        return {name: _deserializer.deserialize(value) for name, value in item.items()}


class StepFunctionsPollerStarter:
    """`PollerStarter` for the submit path: start a poller execution unless a run is active.

    The marker is claimed first (conditional write), so many submits in one second start one run;
    the execution is named after its run id, and its first round finds the marker already its own.
    """

    def __init__(
        self,
        state: DynamoPollerState,
        stepfunctions: Any,
        state_machine_arn: str,
        *,
        clock: Callable[[], float],
        hold_s: float,
    ) -> None:
        self._state = state
        self._sfn = stepfunctions
        self._arn = state_machine_arn
        self._clock = clock
        self._hold_s = hold_s

    def start(self, job_id: str) -> None:
        run_id = f"submit-{uuid.uuid4()}"
        if not self._state.claim_run(run_id, now=self._clock(), hold_s=self._hold_s):
            return  # a run is looping: it sees the new job at its next round
        try:
            self._sfn.start_execution(
                stateMachineArn=self._arn,
                name=run_id,
                input=json.dumps({"runId": run_id, "source": "submit", "jobId": job_id}),
            )
        except (BotoCoreError, ClientError) as exc:
            self._state.release_run(run_id)  # let the next submit (or the minute tick) try
            raise PollerStartError("could not start a poller run") from exc
        logger.info("poller run started", extra={"run_id": run_id, "job_id": job_id})
