"""Counts what the local stack asks of AWS while it runs, so a benchmark can price it.

    meter = metering.start()            # process-wide; before the stack starts its functions
    ... run the local stack ...
    usage = meter.snapshot()            # counts so far; `usage - earlier` for one phase

What is counted:

- every AWS API call made through botocore in this process, by *origin*, service and operation.
  The origin is the function whose code made the call (also from threads that code started, e.g. a
  thread pool: a thread inherits the origin of the thread that started it), or the local runtime's
  own machinery standing in for AWS: `sqs-event-source` (Lambda's SQS pollers; their empty receives
  are kept apart, the local long-poll is not Lambda's), `stream-event-source` (Lambda's DynamoDB
  stream reads, free on AWS), `scheduler` (EventBridge Scheduler), `state-machine` (moto's Step
  Functions interpreter), and `local` for anything else (tests, benchmarks, the stack's setup);
- Lambda invocations per function with their durations (wall time of the in-process handler);
- DynamoDB write and read request units, estimated per call (see `ItemUnits`) with the table's
  global secondary indexes taken from the template (`Meter.learn_tables`);
- schedule firings (EventBridge Scheduler invocations);
- bytes the functions write to stdout/stderr (CloudWatch Logs ingestion on AWS), and the custom
  metrics their embedded-metric-format lines declare.

The meter's own look-ups (item sizes before and after a write) are not counted.
"""

from __future__ import annotations

import copy
import json
import math
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TextIO

from runway_bridge_dev.local import functions as _functions

LOCAL = "local"
SQS_EVENT_SOURCE = "sqs-event-source"
STREAM_EVENT_SOURCE = "stream-event-source"
SCHEDULER = "scheduler"
STATE_MACHINE = "state-machine"
# Origins of calls AWS makes (and bills) itself, which the local runtime makes for it.
GLUE_ORIGINS = (SQS_EVENT_SOURCE, STREAM_EVENT_SOURCE, SCHEDULER, STATE_MACHINE)
# Threads of the local runtime, by name prefix (sqs_poller.py, stream_poller.py, scheduler.py).
_THREAD_ORIGINS = (
    ("sqs-", SQS_EVENT_SOURCE),
    ("stream-", STREAM_EVENT_SOURCE),
    ("local-scheduler", SCHEDULER),
)
FUNCTION_PREFIX = "function:"
EMPTY_RECEIVE = "ReceiveMessage(empty)"

WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096

_state = threading.local()  # .origin (explicit), .quiet_meter (the meter's own calls)
_install_lock = threading.Lock()
_installed = False
_active: Meter | None = None


# --- origins ------------------------------------------------------------------------------------------


def current_origin() -> str:
    """Who is making a call on this thread (see the module docs)."""
    explicit: str | None = getattr(_state, "origin", None)
    if explicit is not None:
        return explicit
    function = getattr(_functions._invocation, "function_name", None)
    if function is not None and getattr(_functions._invocation, "active", False):
        return FUNCTION_PREFIX + str(function)
    thread = threading.current_thread()
    inherited: str | None = getattr(thread, "_meter_origin", None)
    if inherited is not None:
        return inherited
    for prefix, origin in _THREAD_ORIGINS:
        if thread.name.startswith(prefix):
            return origin
    return LOCAL


@contextmanager
def origin(name: str) -> Iterator[None]:
    """Calls made on this thread (and threads it starts) within the block count for `name`."""
    previous = getattr(_state, "origin", None)
    _state.origin = name
    try:
        yield
    finally:
        _state.origin = previous


# --- DynamoDB units ---------------------------------------------------------------------------------


def attribute_value_size(value: Mapping[str, Any]) -> int:
    """Approximate stored size of one DynamoDB-JSON attribute value, as DynamoDB sizes items."""
    (kind, content), *_ = value.items()
    if kind == "S":
        return len(str(content).encode())
    if kind == "N":
        digits = str(content).lstrip("-").replace(".", "").lstrip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind == "B":
        return len(content) if isinstance(content, bytes | bytearray) else len(str(content)) * 3 // 4
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        inner = {"SS": "S", "NS": "N", "BS": "B"}[kind]
        return sum(attribute_value_size({inner: element}) for element in content)
    if kind == "L":
        return 3 + sum(1 + attribute_value_size(element) for element in content)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + attribute_value_size(v) for name, v in content.items())
    return len(json.dumps(content))


def item_size(item: Mapping[str, Any] | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode()) + attribute_value_size(value) for name, value in item.items())


@dataclass(frozen=True)
class IndexSpec:
    name: str
    keys: tuple[str, ...]
    projection: str  # ALL, KEYS_ONLY or INCLUDE
    included: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableSpec:
    keys: tuple[str, ...]
    indexes: tuple[IndexSpec, ...] = ()


def _index_key(item: Mapping[str, Any] | None, keys: tuple[str, ...]) -> tuple[Any, ...] | None:
    if not item or any(name not in item for name in keys):
        return None
    return tuple(json.dumps(item[name], sort_keys=True, default=str) for name in keys)


def index_write_units(
    table: TableSpec, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> int:
    """Write units a change of one item costs in the table's global secondary indexes.

    An index is written when the item enters or leaves it (1 write), moves within it (its index key
    changed: a delete and a put, 2 writes), or stays while a projected attribute changed (ALL: any
    attribute; INCLUDE: a listed one; KEYS_ONLY: none, as its keys did not change). Each write is
    sized by the projected item in 1 KB units.
    """
    units = 0
    for index in table.indexes:
        old, new = _index_key(before, index.keys), _index_key(after, index.keys)
        if old is None and new is None:
            continue
        projected_names = set(table.keys) | set(index.keys)
        if index.projection == "ALL":
            projected = dict(after or before or {})
        else:
            projected_names |= set(index.included)
            projected = {k: v for k, v in (after or before or {}).items() if k in projected_names}
        size_units = max(1, math.ceil(item_size(projected) / WRITE_UNIT_BYTES))
        if old is not None and new is not None and old != new:
            units += 2 * size_units
        elif old is None or new is None:
            units += size_units
        else:
            watched: set[str] | None
            watched = None if index.projection == "ALL" else set(index.included)
            changed = {
                name
                for name in set(before or {}) | set(after or {})
                if (before or {}).get(name) != (after or {}).get(name)
            }
            if changed and (watched is None or changed & watched):
                units += size_units
    return units


def table_write_units(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> int:
    """A write is sized by the larger of the item before and after it, in 1 KB units (at least 1)."""
    return max(1, math.ceil(max(item_size(before), item_size(after)) / WRITE_UNIT_BYTES))


def read_units(total_bytes: int, *, consistent: bool) -> float:
    """One read request: 4 KB units of what it read (at least one), halved when eventually consistent."""
    units = max(1, math.ceil(total_bytes / READ_UNIT_BYTES))
    return float(units) if consistent else units / 2


def tables_from_template(template: Mapping[str, Any], resolve: Callable[[Any], Any]) -> dict[str, TableSpec]:
    """Physical table name -> its key and global secondary indexes, from `AWS::DynamoDB::Table`s."""
    tables = {}
    for logical_id, resource in (template.get("Resources") or {}).items():
        if resource.get("Type") != "AWS::DynamoDB::Table":
            continue
        properties = resource.get("Properties") or {}
        indexes = []
        for index in properties.get("GlobalSecondaryIndexes") or []:
            projection = index.get("Projection") or {}
            indexes.append(
                IndexSpec(
                    name=str(index["IndexName"]),
                    keys=tuple(str(key["AttributeName"]) for key in index["KeySchema"]),
                    projection=str(projection.get("ProjectionType", "ALL")),
                    included=tuple(str(name) for name in projection.get("NonKeyAttributes") or []),
                )
            )
        keys = tuple(str(key["AttributeName"]) for key in properties.get("KeySchema") or [])
        tables[str(resolve({"Ref": logical_id}))] = TableSpec(keys=keys, indexes=tuple(indexes))
    return tables


# --- what is counted --------------------------------------------------------------------------------


@dataclass
class Usage:
    """Counts of one period (a snapshot, or the difference of two)."""

    calls: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (origin, service, operation)
    invocations: Counter[str] = field(default_factory=Counter)  # function name -> count
    invocation_seconds: Counter[str] = field(default_factory=Counter)  # function name -> summed seconds
    billed_ms: Counter[str] = field(default_factory=Counter)  # function name -> ms rounded up per call
    # function name -> ms its invocations spent waiting for the meter's own look-ups (in billed_ms)
    meter_ms: Counter[str] = field(default_factory=Counter)
    write_units: Counter[str] = field(default_factory=Counter)  # table -> WRU (base table + indexes)
    index_write_units: Counter[str] = field(default_factory=Counter)  # table -> WRU of its indexes
    read_units: Counter[str] = field(default_factory=Counter)  # table -> RRU (halves: floats)
    schedule_fires: Counter[str] = field(default_factory=Counter)  # schedule logical id -> fires
    log_bytes: Counter[str] = field(default_factory=Counter)  # function name -> bytes written
    metrics: set[tuple[str, str, str]] = field(default_factory=set)  # (namespace, name, dimensions)

    def __sub__(self, earlier: Usage) -> Usage:
        return Usage(
            calls=self.calls - earlier.calls,
            invocations=self.invocations - earlier.invocations,
            invocation_seconds=self.invocation_seconds - earlier.invocation_seconds,
            billed_ms=self.billed_ms - earlier.billed_ms,
            meter_ms=self.meter_ms - earlier.meter_ms,
            write_units=self.write_units - earlier.write_units,
            index_write_units=self.index_write_units - earlier.index_write_units,
            read_units=self.read_units - earlier.read_units,
            schedule_fires=self.schedule_fires - earlier.schedule_fires,
            log_bytes=self.log_bytes - earlier.log_bytes,
            metrics=self.metrics - earlier.metrics,
        )

    def requests(self, service: str, *, origins: tuple[str, ...] | None = None) -> Counter[str]:
        """Operation -> count for one service, from the given origins (default: all but `local`)."""
        found: Counter[str] = Counter()
        for (who, svc, operation), count in self.calls.items():
            if svc != service or who == LOCAL or (origins is not None and who not in origins):
                continue
            found[operation] += count
        return found

    def by_origin(self, who: str) -> Counter[tuple[str, str]]:
        return Counter({(svc, op): n for (o, svc, op), n in self.calls.items() if o == who})


class Meter:
    """The counters; one is active at a time (`start`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._usage = Usage()
        self.tables: dict[str, TableSpec] = {}
        # Discard what functions print (they are still counted), e.g. to keep a benchmark readable.
        self.quiet_functions = False
        self._lookup_clients: dict[str, Any] = {}

    def learn_tables(self, template: Mapping[str, Any], resolve: Callable[[Any], Any]) -> None:
        self.tables.update(tables_from_template(template, resolve))

    def snapshot(self) -> Usage:
        with self._lock:
            return copy.deepcopy(self._usage)

    # -- noted by the hooks --

    def note_call(self, who: str, service: str, operation: str) -> None:
        with self._lock:
            self._usage.calls[(who, service, operation)] += 1

    def note_invocation(self, function_name: str, seconds: float) -> None:
        with self._lock:
            self._usage.invocations[function_name] += 1
            self._usage.invocation_seconds[function_name] += seconds  # type: ignore[assignment]
            self._usage.billed_ms[function_name] += max(1, math.ceil(seconds * 1000))

    def note_fire(self, logical_id: str) -> None:
        with self._lock:
            self._usage.schedule_fires[logical_id] += 1

    def note_log(self, who: str, text: str) -> None:
        if not who.startswith(FUNCTION_PREFIX):
            return
        function = who.removeprefix(FUNCTION_PREFIX)
        metrics = _emf_metrics(text)
        with self._lock:
            self._usage.log_bytes[function] += len(text.encode())
            self._usage.metrics.update(metrics)

    def note_units(self, table: str, *, write: int = 0, index_write: int = 0, read: float = 0) -> None:
        with self._lock:
            if write or index_write:
                self._usage.write_units[table] += int(write + index_write)
                self._usage.index_write_units[table] += int(index_write)
            if read:
                self._usage.read_units[table] += read  # type: ignore[assignment]

    # -- DynamoDB --

    def _lookup(self, client: Any, table: str, key: Mapping[str, Any]) -> dict[str, Any] | None:
        """The item as stored now (not counted: the meter's own read, its time noted apart)."""
        _state.quiet_meter = True
        began = time.monotonic()
        try:
            item: dict[str, Any] | None = client.get_item(
                TableName=table, Key=dict(key), ConsistentRead=True
            ).get("Item")
            return item
        except Exception:  # noqa: BLE001  (a table the meter cannot read: size the write from its request)
            return None
        finally:
            _state.quiet_meter = False
            who = current_origin()
            # Only the invocation's own thread: look-ups in threads it started overlap each other
            # (a round's concurrent checks), and their sum would exceed the time they cost.
            if who.startswith(FUNCTION_PREFIX) and threading.current_thread().name.startswith("lambda-"):
                with self._lock:
                    self._usage.meter_ms[who.removeprefix(FUNCTION_PREFIX)] += round(
                        (time.monotonic() - began) * 1000
                    )

    def _key_of(self, table: str, item: Mapping[str, Any]) -> dict[str, Any]:
        spec = self.tables.get(table)
        if spec is None:
            return {}
        return {name: item[name] for name in spec.keys if name in item}

    def dynamodb_call(
        self, client: Any, operation: str, params: Mapping[str, Any], call: Callable[[], Any]
    ) -> Any:
        """Run one DynamoDB call and note the units it costs."""
        writes: list[
            tuple[str, Mapping[str, Any], Mapping[str, Any] | None, int]
        ] = []  # table, key, put item, factor
        if operation in ("PutItem", "UpdateItem", "DeleteItem"):
            table = str(params.get("TableName"))
            item = params.get("Item")
            writes.append((table, params.get("Key") or self._key_of(table, item or {}), item, 1))
        elif operation == "TransactWriteItems":
            for entry in params.get("TransactItems") or []:
                (kind, body), *_ = entry.items()
                table = str(body.get("TableName"))
                key = body.get("Key") or self._key_of(table, body.get("Item") or {})
                writes.append((table, key, body.get("Item") if kind == "Put" else None, 2))
        elif operation == "BatchWriteItem":
            for table, requests in (params.get("RequestItems") or {}).items():
                for request in requests:
                    if "PutRequest" in request:
                        item = request["PutRequest"]["Item"]
                        writes.append((table, self._key_of(table, item), item, 1))
                    else:
                        writes.append((table, request["DeleteRequest"]["Key"], None, 1))
        before = [self._lookup(client, table, key) if key else None for table, key, _, _ in writes]
        try:
            result = call()
        except Exception:
            # A refused conditional write still costs its units (sized by the stored item).
            for (table, _, _, factor), old in zip(writes, before, strict=True):
                self.note_units(table, write=factor * table_write_units(old, None))
            raise
        for (table, key, put, factor), old in zip(writes, before, strict=True):
            new = self._lookup(client, table, key) if key else put
            spec = self.tables.get(table)
            self.note_units(
                table,
                write=factor * table_write_units(old, new),
                index_write=index_write_units(spec, old, new) if spec else 0,
            )
        self._note_reads(operation, params, result)
        return result

    def _note_reads(self, operation: str, params: Mapping[str, Any], result: Any) -> None:
        if not isinstance(result, Mapping):
            return
        consistent = bool(params.get("ConsistentRead"))
        if operation == "GetItem":
            self.note_units(
                str(params["TableName"]),
                read=read_units(item_size(result.get("Item")), consistent=consistent),
            )
        elif operation in ("Query", "Scan"):
            total = sum(item_size(item) for item in result.get("Items") or [])
            self.note_units(str(params["TableName"]), read=read_units(total, consistent=consistent))
        elif operation == "BatchGetItem":
            for table, items in (result.get("Responses") or {}).items():
                wanted = (params.get("RequestItems") or {}).get(table) or {}
                for item in items:
                    self.note_units(
                        table, read=read_units(item_size(item), consistent=bool(wanted.get("ConsistentRead")))
                    )
        elif operation == "TransactGetItems":
            for entry, response in zip(
                params.get("TransactItems") or [], result.get("Responses") or [], strict=False
            ):
                table = str(entry["Get"]["TableName"])
                self.note_units(table, read=2 * read_units(item_size(response.get("Item")), consistent=True))


def _emf_metrics(text: str) -> set[tuple[str, str, str]]:
    """(namespace, metric, dimension names) declared by an embedded-metric-format line."""
    if '"_aws"' not in text:
        return set()
    found: set[tuple[str, str, str]] = set()
    for line in text.splitlines():
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if not isinstance(document, dict):
            continue
        for directive in (document.get("_aws") or {}).get("CloudWatchMetrics") or []:
            for dimensions in directive.get("Dimensions") or [[]]:
                labels = ",".join(f"{name}={document.get(name)}" for name in dimensions)
                for metric in directive.get("Metrics") or []:
                    found.add((str(directive.get("Namespace")), str(metric.get("Name")), labels))
    return found


# --- the hooks --------------------------------------------------------------------------------------


class _CountingStream:
    """Stands in for sys.stdout / sys.stderr: counts what functions write (their log ingestion)."""

    def __init__(self, inner: TextIO) -> None:
        self._inner = inner

    def write(self, text: str) -> int:
        meter = _active
        if meter is not None and not getattr(_state, "quiet_meter", False):
            who = current_origin()
            meter.note_log(who, text)
            if meter.quiet_functions and who.startswith(FUNCTION_PREFIX):
                return len(text)
        return self._inner.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _install() -> None:
    global _installed  # noqa: PLW0603  (process-wide patches, applied once)
    with _install_lock:
        if _installed:
            return
        _installed = True
        _patch_threads()
        _patch_botocore()
        _patch_scheduler()
        _patch_state_machines()
        _functions.invocation_observers.append(_observe_invocation)
    count_output()


def count_output() -> None:
    """Count what is written to the current sys.stdout and sys.stderr (start() does this once; a
    logging handler made earlier keeps writing to the stream it was given, uncounted)."""
    if not isinstance(sys.stdout, _CountingStream):
        sys.stdout = _CountingStream(sys.stdout)  # type: ignore[assignment]
    if not isinstance(sys.stderr, _CountingStream):
        sys.stderr = _CountingStream(sys.stderr)  # type: ignore[assignment]


def _observe_invocation(function_name: str, seconds: float) -> None:
    if _active is not None:
        _active.note_invocation(function_name, seconds)


def _patch_threads() -> None:
    original = threading.Thread.start

    def start(self: threading.Thread) -> None:
        if not hasattr(self, "_meter_origin"):
            who = current_origin()
            if who != LOCAL:
                self._meter_origin = who  # type: ignore[attr-defined]
        original(self)

    threading.Thread.start = start  # type: ignore[method-assign]


def _patch_botocore() -> None:
    from botocore.client import BaseClient  # noqa: PLC0415

    original = BaseClient._make_api_call  # type: ignore[attr-defined]

    def make_api_call(self: Any, operation_name: str, api_params: Any) -> Any:
        meter = _active
        if meter is None or getattr(_state, "quiet_meter", False):
            return original(self, operation_name, api_params)
        service = str(self.meta.service_model.endpoint_prefix)
        who = current_origin()
        if service == "dynamodb" and who != LOCAL:
            result = meter.dynamodb_call(
                self, operation_name, api_params, lambda: original(self, operation_name, api_params)
            )
        else:
            result = original(self, operation_name, api_params)
        operation = operation_name
        if operation_name == "ReceiveMessage" and who == SQS_EVENT_SOURCE and not result.get("Messages"):
            operation = EMPTY_RECEIVE
        meter.note_call(who, service, operation)
        return result

    BaseClient._make_api_call = make_api_call  # type: ignore[attr-defined]


def _patch_scheduler() -> None:
    from runway_bridge_dev.local.scheduler import LocalScheduler  # noqa: PLC0415

    original = LocalScheduler.fire_now

    def fire_now(self: LocalScheduler, logical_id: str, *, wait: bool = True) -> Any:
        if _active is not None:
            _active.note_fire(logical_id)
        with origin(SCHEDULER):
            return original(self, logical_id, wait=wait)

    LocalScheduler.fire_now = fire_now  # type: ignore[method-assign]


def _patch_state_machines() -> None:
    """The interpreter's threads start inside StartExecution: they inherit the state machine origin."""
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend  # noqa: PLC0415

    original = StepFunctionsParserBackend.start_execution

    def start_execution(self: Any, *args: Any, **kwargs: Any) -> Any:
        with origin(STATE_MACHINE):
            return original(self, *args, **kwargs)

    StepFunctionsParserBackend.start_execution = start_execution  # type: ignore[method-assign]


def start() -> Meter:
    """Install the hooks (once per process) and make a fresh meter the active one."""
    global _active  # noqa: PLW0603
    from runway_bridge_dev.local.moto_adaptations import install  # noqa: PLC0415

    install()  # moto's own patches first: ours wrap them
    _install()
    _active = Meter()
    return _active


def stop() -> None:
    """No meter is active any more (the hooks stay, idle)."""
    global _active  # noqa: PLW0603
    _active = None


@dataclass(frozen=True)
class ExpressRun:
    state_machine: str
    seconds: float
    status: str


def express_runs() -> list[ExpressRun]:
    """Executions moto's Step Functions interpreter has run in this process (until the stack stops)."""
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends  # noqa: PLC0415

    runs = []
    backends = [
        backend
        for regions in list(stepfunctions_parser_backends.values())
        for backend in list(regions.values())
    ]
    for backend in backends:
        for machine in list(backend.state_machines):
            for execution in list(getattr(machine, "executions", [])):
                stop_date = getattr(execution, "stop_date", None)
                if stop_date is None:
                    continue
                runs.append(
                    ExpressRun(
                        machine.name,
                        (stop_date - execution.start_date).total_seconds(),
                        str(getattr(execution, "exec_status", "")),
                    )
                )
    return runs
