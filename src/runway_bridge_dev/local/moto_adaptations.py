"""Everything the local runtime changes inside moto, in one place (no other module imports moto
internals). Each adaptation fills a gap established on these machines (see README.md,
"Local runtime"):

* moto's server runs in THIS process (`ThreadedMotoServer` on 127.0.0.1, free port), so the patches
  below apply to the requests it serves. moto's backends are process-global: they are reset when the
  last server of the process stops.
* Step Functions executes real ASL (`execute_state_machine`), and its AWS calls (e.g.
  `arn:aws:states:::lambda:invoke`) go to this server on 127.0.0.1 instead of `localhost:5000`.
* Lambda `Invoke` (API calls, Step Functions tasks, plain Lambda ARNs) runs the handler in-process
  through the registered `FunctionRunner` instead of Docker. `InvocationType=Event` runs in the
  background with Lambda's two retries.
* EventBridge rule targets of type Lambda, Step Functions, SQS and SNS are delivered by a hook here,
  honouring `Input`, `InputPath` and `InputTransformer` (moto raises for Lambda/Step Functions and
  ignores Input/InputPath).
* SNS subscriptions with protocol `lambda` run the local function asynchronously with the SNS event
  Lambda receives (moto would look the function up in its own Lambda backend, where it does not
  exist, and could only run it in Docker).
* `StartExecution` without a name gets one (a UUID, like AWS; the executing backend would build
  the ARN ".../None").
* DynamoDB item operations run one at a time, and `TransactWriteItems` checks every condition
  before it writes anything, keeping each table object (moto's rollback swaps in a deep copy of the
  whole table, which strands stream readers on the old shard and keeps old copies alive).

The moto version is pinned: these patches depend on its internals, so another version fails loudly.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import functools
import importlib.metadata
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runway_bridge_dev.local.functions import FunctionRunner

log = logging.getLogger(__name__)

PINNED_MOTO_VERSION = "5.2.5"
# Lambda retries a failed asynchronous invocation twice.
ASYNC_RETRIES = 2
ASYNC_RETRY_DELAY_S = 0.2
# Retries of a failed EventBridge target delivery before the dead-letter queue.
DELIVERY_RETRIES = 2


class MotoVersionMismatch(RuntimeError):
    pass


def check_moto_version(installed: str | None = None) -> None:
    installed = installed or importlib.metadata.version("moto")
    if installed != PINNED_MOTO_VERSION:
        raise MotoVersionMismatch(
            f"moto {installed} is installed but the local runtime patches moto {PINNED_MOTO_VERSION} "
            "internals (runway_bridge_dev/local/moto_adaptations.py): re-check every patch, then re-pin"
        )


@dataclass
class TargetDelivery:
    """One EventBridge rule target delivery, kept so tests and the CLI can see what happened."""

    rule_arn: str
    target_arn: str
    payload: Any
    error: str | None = None


@dataclass
class _Registry:
    """The running local stacks: whose runner handles an invoke, which endpoint AWS calls use."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    runners: dict[int, FunctionRunner] = field(default_factory=dict)
    endpoints: dict[int, str] = field(default_factory=dict)
    deliveries: list[TargetDelivery] = field(default_factory=list)
    background: concurrent.futures.ThreadPoolExecutor | None = None

    def find_runner(self, function: str) -> FunctionRunner | None:
        with self.lock:
            runners = list(self.runners.values())
        return next((runner for runner in runners if runner.find(function) is not None), None)

    def endpoint(self) -> str:
        with self.lock:
            if not self.endpoints:
                raise RuntimeError("no local moto server is running")
            return next(iter(self.endpoints.values()))

    def submit(self, work: Callable[[], None]) -> None:
        with self.lock:
            if self.background is None:
                self.background = concurrent.futures.ThreadPoolExecutor(8, thread_name_prefix="local-async")
            executor = self.background
        executor.submit(_logged(work))


def _logged(work: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        try:
            work()
        except Exception:
            log.exception("background delivery failed")

    return run


_registry = _Registry()
_install_lock = threading.Lock()
_installed = False


def deliveries() -> list[TargetDelivery]:
    """Every EventBridge target delivery made by the hook since the process started."""
    with _registry.lock:
        return list(_registry.deliveries)


# --- the moto server ------------------------------------------------------------------------------


class MotoServer:
    """moto's server on 127.0.0.1 in this process; Lambda invokes it serves go to `runner`."""

    def __init__(self, runner: FunctionRunner) -> None:
        install()
        self._runner = runner
        self._server: Any = None
        self.endpoint_url = ""

    def start(self) -> str:
        from moto.server import ThreadedMotoServer  # noqa: PLC0415  (slow import)

        # werkzeug would log every request moto serves to stderr.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        with _registry.lock:
            _registry.runners[id(self)] = self._runner
            _registry.endpoints[id(self)] = self.endpoint_url
        return self.endpoint_url

    def stop(self) -> None:
        if self._server is None:
            return
        with _registry.lock:
            _registry.runners.pop(id(self), None)
            _registry.endpoints.pop(id(self), None)
            last = not _registry.runners
        self._server.stop()
        self._server = None
        if last:
            # moto's state is process-global: the next stack in this process starts empty.
            from moto.moto_api._internal.models import moto_api_backend  # noqa: PLC0415

            moto_api_backend.reset()


# --- the patches ------------------------------------------------------------------------------------


def install() -> None:
    """Apply every adaptation once per process (idempotent)."""
    global _installed  # noqa: PLW0603  (patches are process-wide by nature)
    with _install_lock:
        if _installed:
            return
        check_moto_version()
        _enable_asl_execution()
        _route_step_functions_calls_to_this_server()
        _run_lambda_invokes_in_process()
        _deliver_rule_targets()
        _deliver_sns_to_local_functions()
        _name_every_execution()
        _transactions_keep_tables()
        _serialise_dynamodb()  # last: it wraps the transaction above too
        _installed = True


# DynamoDB operations that read or write items: each must see and leave the table whole.
_DYNAMODB_ITEM_OPERATIONS = (
    "get_item",
    "put_item",
    "update_item",
    "delete_item",
    "query",
    "scan",
    "batch_get_item",
    "batch_write_item",
    "transact_get_items",
    "transact_write_items",
    "execute_statement",
    "execute_transaction",
    "batch_execute_statement",
)


def _serialise_dynamodb() -> None:
    """Run DynamoDB item operations one at a time.

    moto's server answers requests on many threads but its DynamoDB backend has no locking: under load
    a condition check and the write it guards interleave with another request's (two leases granted,
    or "dictionary changed size during iteration"). Real DynamoDB makes each conditional write and
    transaction atomic, and our at-most-once and lease logic relies on exactly that.
    """
    from moto.dynamodb.models import DynamoDBBackend  # noqa: PLC0415

    lock = threading.RLock()

    def serialised(operation: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(operation)
        def run(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return operation(*args, **kwargs)

        return run

    for name in _DYNAMODB_ITEM_OPERATIONS:
        setattr(DynamoDBBackend, name, serialised(getattr(DynamoDBBackend, name)))


_TRANSACT_WRITE_OPERATIONS = frozenset({"ConditionCheck", "Put", "Delete", "Update"})


@dataclass
class _PlannedWrite:
    operation: str
    request: dict[str, Any]
    table: Any
    key: dict[str, Any]


def _transactions_keep_tables() -> None:
    """`TransactWriteItems` as DynamoDB runs it: all conditions first, then all writes, or nothing.

    moto takes a deep copy of every table a transaction names before it starts (time and memory in
    proportion to the whole table, stream records included, on every transaction) and, when one
    part fails, swaps that copy in for the table. The swapped-out table keeps the stream shard a
    reader's iterators point at, so after the first cancelled transaction a stream reader hears
    nothing more, and every iterator it was handed keeps an old table copy alive.

    Here the conditions are evaluated against the current items first (under the serialising lock,
    so nothing changes between the check and the writes); a failed condition cancels with nothing
    written. Should a write itself then fail (an invalid update expression), only the items the
    transaction touched are put back and the stream records it added are dropped.
    """
    import copy  # noqa: PLC0415

    from moto.dynamodb.comparisons import get_filter_expression  # noqa: PLC0415
    from moto.dynamodb.exceptions import (  # noqa: PLC0415
        ConditionalCheckFailed,
        MockValidationException,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )
    from moto.dynamodb.models import DynamoDBBackend  # noqa: PLC0415

    def plan(backend: Any, transact_items: list[dict[str, Any]]) -> list[_PlannedWrite]:
        planned: list[_PlannedWrite] = []
        seen: set[tuple[str, str]] = set()
        for entry in transact_items:
            if len(entry) != 1:
                raise TransactWriteSingleOpException
            operation, request = next(iter(entry.items()))
            if operation not in _TRANSACT_WRITE_OPERATIONS:
                raise MockValidationException(f"Unsupported transaction operation {operation}")
            table = backend.get_table(request["TableName"])
            if operation == "Put":
                names = [table.hash_key_attr, *([table.range_key_attr] if table.range_key_attr else [])]
                missing = [name for name in names if name not in request["Item"]]
                if missing:
                    raise MockValidationException(
                        f"One or more parameter values were invalid: Missing the key {missing[0]} in the item"
                    )
                key = {name: request["Item"][name] for name in names}
            else:
                key = request["Key"]
            identity = (table.name, json.dumps(key, sort_keys=True))
            if identity in seen:
                raise MultipleTransactionsException
            seen.add(identity)
            planned.append(_PlannedWrite(operation, request, table, key))
        return planned

    def condition_failure(write: _PlannedWrite, current: Any) -> tuple[str, str, Any] | None:
        expression = write.request.get("ConditionExpression")
        if expression is None:
            return None
        condition = get_filter_expression(
            expression,
            write.request.get("ExpressionAttributeNames"),
            write.request.get("ExpressionAttributeValues"),
        )
        if condition.expr(current):
            return None
        wants_old = write.request.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD"
        old = current.to_json()["Attributes"] if wants_old and current is not None else None
        return ("ConditionalCheckFailed", str(ConditionalCheckFailed().message), old)

    def apply(backend: Any, write: _PlannedWrite) -> None:
        request, name = write.request, write.table.name
        names = request.get("ExpressionAttributeNames")
        values = request.get("ExpressionAttributeValues")
        # The conditions held a moment ago under the same lock: writing unconditionally is exact.
        if write.operation == "Put":
            backend.put_item(name, request["Item"], expression_attribute_names=names)
        elif write.operation == "Delete":
            backend.delete_item(name, write.key, expression_attribute_names=names)
        elif write.operation == "Update":
            backend.update_item(
                name,
                write.key,
                update_expression=request["UpdateExpression"],
                expression_attribute_names=names,
                expression_attribute_values=values,
            )

    def put_back(
        backend: Any, writes: list[_PlannedWrite], before: list[Any], stream_lengths: dict[Any, int]
    ) -> None:
        for write, item in zip(writes, before, strict=True):
            table = write.table
            hash_value, range_value = backend.get_keys_value(table, write.key)
            if range_value is not None:
                if item is None:
                    table.items.get(hash_value, {}).pop(range_value, None)
                else:
                    table.items[hash_value][range_value] = item
            elif item is None:
                table.items.pop(hash_value, None)
            else:
                table.items[hash_value] = item
        for shard, length in stream_lengths.items():
            del shard.items[length:]

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        if len(transact_items) > 100:
            raise TooManyTransactionsException()
        writes = plan(self, transact_items)
        currents = [self.get_item(write.table.name, write.key) for write in writes]
        failures = [condition_failure(*pair) for pair in zip(writes, currents, strict=True)]
        if any(failure is not None for failure in failures):
            raise TransactionCanceledException([failure or (None, None, None) for failure in failures])
        # Copies, taken before any write: moto's update_item changes an item in place.
        before = [copy.deepcopy(current) for current in currents]
        stream_lengths = {
            write.table.stream_shard: len(write.table.stream_shard.items)
            for write in writes
            if write.table.stream_shard is not None
        }
        for index, write in enumerate(writes):
            try:
                apply(self, write)
            except MockValidationException:
                put_back(self, writes, before, stream_lengths)
                raise
            except Exception as exc:  # reported as that part's cancellation reason, as DynamoDB does
                put_back(self, writes, before, stream_lengths)
                reasons: list[Any] = [(None, None, None)] * len(writes)
                reasons[index] = (type(exc).__name__, str(exc), None)
                raise TransactionCanceledException(reasons) from exc

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def _enable_asl_execution() -> None:
    from moto.core.config import default_user_config  # noqa: PLC0415

    default_user_config["stepfunctions"] = {"execute_state_machine": True}


class _LocalBoto3:
    """Stands in for the `boto3` module inside moto's Step Functions client factory."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def client(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["endpoint_url"] = _registry.endpoint()
        return self._real.client(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def _route_step_functions_calls_to_this_server() -> None:
    # moto builds its clients for `http://localhost:<MOTO_PORT or 5000>`; ours listens elsewhere.
    import boto3  # noqa: PLC0415
    from moto.stepfunctions.parser.asl.utils import boto_client  # noqa: PLC0415

    boto_client.boto3 = _LocalBoto3(boto3)  # type: ignore[attr-defined,assignment]


def _run_lambda_invokes_in_process() -> None:
    from moto.awslambda.models import LambdaBackend  # noqa: PLC0415

    original = LambdaBackend.invoke

    def invoke(  # noqa: PLR0917  (moto's signature)
        self: Any, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
    ) -> str | bytes | None:
        runner = _registry.find_runner(function_name)
        if runner is None:
            return original(self, function_name, qualifier, body, headers, response_headers)
        event = _decode_event(body)
        invocation_type = (headers or {}).get("X-Amz-Invocation-Type", "RequestResponse")
        if invocation_type == "DryRun":
            return b""
        if invocation_type == "Event":
            _registry.submit(lambda: _invoke_async(runner, function_name, event))
            return b""
        payload, error = _invoke_for_payload(runner, function_name, event)
        if error:
            response_headers["x-amz-function-error"] = "Unhandled"
        response_headers["x-amz-executed-version"] = "$LATEST"
        response_headers["Content-Length"] = str(len(payload))
        return payload

    LambdaBackend.invoke = invoke  # type: ignore[method-assign]


def _decode_event(body: Any) -> Any:
    if body is None or body in (b"", ""):
        return {}
    text = body.decode() if isinstance(body, bytes) else str(body)
    return json.loads(text)


def _invoke_for_payload(runner: FunctionRunner, function: str, event: Any) -> tuple[bytes, bool]:
    from runway_bridge_dev.local.functions import FunctionError  # noqa: PLC0415

    try:
        result = runner.invoke(function, event)
    except FunctionError as exc:
        return json.dumps(exc.payload).encode(), True
    return json.dumps(result).encode(), False


def _invoke_async(runner: FunctionRunner, function: str, event: Any) -> None:
    from runway_bridge_dev.local.functions import FunctionError  # noqa: PLC0415

    for attempt in range(ASYNC_RETRIES + 1):
        try:
            runner.invoke(function, event)
            return
        except FunctionError as exc:
            log.warning("async invoke of %s failed (attempt %d): %s", function, attempt + 1, exc)
            time.sleep(ASYNC_RETRY_DELAY_S * (attempt + 1))


def _name_every_execution() -> None:
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend  # noqa: PLC0415

    original = StepFunctionsParserBackend.start_execution

    def start_execution(
        self: Any,
        state_machine_arn: str,
        name: Any = None,
        execution_input: Any = None,
        trace_header: Any = None,
    ) -> Any:
        return original(self, state_machine_arn, name or str(uuid.uuid4()), execution_input, trace_header)

    StepFunctionsParserBackend.start_execution = start_execution  # type: ignore[method-assign]


def _deliver_sns_to_local_functions() -> None:
    from moto.sns.models import Subscription  # noqa: PLC0415

    original = Subscription.publish

    def publish(  # noqa: PLR0917  (moto's signature)
        self: Any,
        message: str,
        message_id: str,
        subject: str | None = None,
        message_attributes: dict[str, Any] | None = None,
        group_id: str | None = None,
        deduplication_id: str | None = None,
        message_structure: str | None = None,
    ) -> None:
        runner = _registry.find_runner(self.endpoint) if self.protocol == "lambda" else None
        if runner is None:
            original(
                self,
                message,
                message_id,
                subject,
                message_attributes,
                group_id,
                deduplication_id,
                message_structure,
            )
            return
        matcher = self._filter_policy_matcher
        if matcher is not None and not matcher.matches(message_attributes, message):
            return
        if message_structure == "json":
            message = self._parse_message_structure(message, self.protocol)
        event = sns_lambda_event(
            topic_arn=self.topic.arn,
            subscription_arn=self.arn,
            message=message,
            message_id=message_id,
            subject=subject,
            message_attributes=message_attributes or {},
        )
        endpoint = self.endpoint
        _registry.submit(lambda: _invoke_async(runner, endpoint, event))

    Subscription.publish = publish  # type: ignore[method-assign]


def sns_lambda_event(
    *,
    topic_arn: str,
    subscription_arn: str,
    message: str,
    message_id: str,
    subject: str | None,
    message_attributes: dict[str, Any],
) -> dict[str, Any]:
    """The event Lambda receives for one SNS notification (signature fields are placeholders)."""
    now = datetime.datetime.now(tz=datetime.UTC)
    return {
        "Records": [
            {
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription_arn,
                "EventSource": "aws:sns",
                "Sns": {
                    "SignatureVersion": "1",
                    "Timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
                    "Signature": "local",
                    "SigningCertUrl": "local",
                    "MessageId": message_id,
                    "Message": message,
                    "MessageAttributes": {
                        name: {"Type": value["Type"], "Value": value["Value"]}
                        for name, value in message_attributes.items()
                    },
                    "Type": "Notification",
                    "UnsubscribeUrl": "local",
                    "TopicArn": topic_arn,
                    "Subject": subject,
                },
            }
        ]
    }


# --- EventBridge rule targets ---------------------------------------------------------------------

_HOOKED_SERVICES = ("lambda", "states", "sqs", "sns")


def _deliver_rule_targets() -> None:
    from moto.events.models import Rule  # noqa: PLC0415

    original = Rule.send_to_targets

    def send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
        if not _registry.endpoints:
            # No LocalAws in this process (a test using a bare moto server after a stack stopped):
            # moto's own delivery, as if we had never patched it.
            original(self, original_event, transform_input)
            return
        if not self.event_pattern.matches_event(original_event):
            return
        hooked = [t for t in self.targets if t["Arn"].split(":")[2] in _HOOKED_SERVICES]
        others = [t for t in self.targets if t not in hooked]
        if others:
            # moto's own delivery (logs, archives, other buses) for the targets it handles.
            saved = self.targets
            self.targets = others
            try:
                original(self, original_event, transform_input)
            finally:
                self.targets = saved
        event = _normalised_event(original_event)
        for target in hooked:
            payload = (
                target_input(target, event, rule_arn=self.arn, rule_name=self.name)
                if transform_input
                else event
            )
            # EventBridge delivers asynchronously: PutEvents never waits for a target.
            _registry.submit(_delivery(self.arn, target, payload))

    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]


def _normalised_event(event: Any) -> dict[str, Any]:
    normalised = json.loads(json.dumps(event, default=str))
    moment = event.get("time")
    if isinstance(moment, (int, float)):
        when = datetime.datetime.fromtimestamp(float(moment), tz=datetime.UTC)
        normalised["time"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    elif isinstance(moment, datetime.datetime):
        normalised["time"] = moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return dict(normalised)


def _delivery(rule_arn: str, target: dict[str, Any], payload: Any) -> Callable[[], None]:
    retry_policy = target.get("RetryPolicy") or {}
    # EventBridge retries for up to 24 h; locally a couple of quick retries show the same outcome.
    attempts = 1 + min(int(retry_policy.get("MaximumRetryAttempts", DELIVERY_RETRIES)), DELIVERY_RETRIES)

    def deliver() -> None:
        record = TargetDelivery(rule_arn, target["Arn"], payload)
        for attempt in range(attempts):
            try:
                _deliver(target, payload)
                record.error = None
                break
            except Exception as exc:  # noqa: BLE001  (a failed delivery is recorded, like EventBridge does)
                record.error = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "rule %s: delivery %d to %s failed: %s", rule_arn, attempt + 1, target["Arn"], exc
                )
                time.sleep(ASYNC_RETRY_DELAY_S * (attempt + 1))
        if record.error is not None:
            dead_letter_arn = (target.get("DeadLetterConfig") or {}).get("Arn")
            if dead_letter_arn:
                _send_to_dead_letter_queue(dead_letter_arn, rule_arn, target, payload, record.error)
        with _registry.lock:
            _registry.deliveries.append(record)

    return deliver


def _send_to_dead_letter_queue(
    queue_arn: str, rule_arn: str, target: dict[str, Any], payload: Any, error: str
) -> None:
    """The undelivered event with the attributes EventBridge adds to dead-lettered events."""
    attributes = {
        "RULE_ARN": rule_arn,
        "TARGET_ARN": str(target["Arn"]),
        "ERROR_CODE": error.split(":", 1)[0],
        "ERROR_MESSAGE": error,
    }
    try:
        _deliver(
            {"Arn": queue_arn},
            payload,
            message_attributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
        )
    except Exception:
        log.exception("rule %s: dead-letter queue %s unreachable", rule_arn, queue_arn)


def _deliver(
    target: dict[str, Any], payload: Any, *, message_attributes: dict[str, Any] | None = None
) -> None:
    import boto3  # noqa: PLC0415

    arn = str(target["Arn"])
    service, region = arn.split(":")[2], arn.split(":")[3]
    body = payload if isinstance(payload, str) else json.dumps(payload)

    def client(name: str) -> Any:
        return boto3.session.Session().client(  # type: ignore[call-overload]
            name,
            endpoint_url=_registry.endpoint(),
            region_name=region,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    if service == "lambda":
        runner = _registry.find_runner(arn)
        if runner is None:
            raise LookupError(f"no local function {arn}")
        # EventBridge invokes Lambda asynchronously: Lambda's own retries apply.
        _invoke_async(runner, arn, payload)
    elif service == "states":
        client("stepfunctions").start_execution(stateMachineArn=arn, name=str(uuid.uuid4()), input=body)
    elif service == "sqs":
        account, name = arn.split(":")[4], arn.split(":")[5]
        sqs = client("sqs")
        url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        extra: dict[str, Any] = {"MessageAttributes": message_attributes} if message_attributes else {}
        group = (target.get("SqsParameters") or {}).get("MessageGroupId")
        if group:
            extra["MessageGroupId"] = group
        sqs.send_message(QueueUrl=url, MessageBody=body, **extra)
    elif service == "sns":
        client("sns").publish(TopicArn=arn, Message=body)


# --- Input / InputPath / InputTransformer -----------------------------------------------------------

_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")
_PATH_TOKEN = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\['([^']+)'\]")


def json_path(document: Any, path: str) -> Any:
    """The value at a simple JSONPath (`$`, `$.a.b`, `$.a[0]`, `$['a-b']`); None when absent."""
    if path in ("$", ""):
        return document
    current = document
    for name, index, quoted in _PATH_TOKEN.findall(path[1:] if path.startswith("$") else path):
        if index:
            if not isinstance(current, list) or int(index) >= len(current):
                return None
            current = current[int(index)]
        else:
            key = name or quoted
            if not isinstance(current, dict) or key not in current:
                return None
            current = current[key]
    return current


def target_input(target: dict[str, Any], event: dict[str, Any], *, rule_arn: str, rule_name: str) -> Any:
    """What EventBridge sends to a target: `Input` (constant JSON), `InputPath`, `InputTransformer`, or
    the whole event."""
    if "Input" in target:
        return json.loads(target["Input"])
    if "InputPath" in target:
        return json_path(event, target["InputPath"])
    transformer = target.get("InputTransformer")
    if transformer:
        return render_input_template(transformer, event, rule_arn=rule_arn, rule_name=rule_name)
    return event


def render_input_template(
    transformer: dict[str, Any], event: dict[str, Any], *, rule_arn: str, rule_name: str
) -> Any:
    """`InputTemplate` with `<name>` placeholders filled from `InputPathsMap` and EventBridge's
    predefined variables. Inside a JSON string a value is inserted as text; elsewhere as JSON. The
    result is an object when it parses as JSON, else the text (as EventBridge delivers it)."""
    paths = transformer.get("InputPathsMap") or {}
    values: dict[str, Any] = {name: json_path(event, path) for name, path in paths.items()}
    values.setdefault("aws.events.rule-arn", rule_arn)
    values.setdefault("aws.events.rule-name", rule_name)
    values.setdefault("aws.events.event.ingestion-time", event.get("time"))
    values.setdefault("aws.events.event", event)
    values.setdefault("aws.events.event.json", event)
    template = str(transformer.get("InputTemplate", ""))
    out: list[str] = []
    position = 0
    for match in _PLACEHOLDER.finditer(template):
        name = match.group(1)
        if name not in values:
            continue
        out.append(template[position : match.start()])
        value = values[name]
        if _inside_json_string(template, match.start()):
            text = value if isinstance(value, str) else json.dumps(value)
            out.append(json.dumps(text)[1:-1])  # escaped for the surrounding string
        else:
            out.append("null" if value is None else json.dumps(value))
        position = match.end()
    out.append(template[position:])
    rendered = "".join(out)
    try:
        return json.loads(rendered)
    except json.JSONDecodeError:
        return rendered


def _inside_json_string(text: str, index: int) -> bool:
    inside = False
    escaped = False
    for char in text[:index]:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            inside = not inside
    return inside
