"""Runs the template's Lambda functions in this process, the way the Lambda service would call them.

A function is registered once (`FunctionRunner.register`) and invoked by name, ARN or logical id.
The handler module is loaded from the function's code directory under a unique module name, so two
functions may both ship an `app.py`. A handler's exception comes back as `FunctionError` carrying the
`errorType` / `errorMessage` pair Lambda reports.
"""

from __future__ import annotations

import importlib.util
import itertools
import re
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

DEFAULT_TIMEOUT_S = 3.0
DEFAULT_MEMORY_MB = 128

_module_counter = itertools.count()
_import_lock = threading.Lock()
# Set in the thread of each invocation (see `_own_log_keys_per_invocation`).
_invocation = threading.local()
_log_isolation_lock = threading.Lock()
_log_isolation_installed = False
_router_isolation_installed = False
# Called with (function name, seconds) after every invocation (metering.py counts them).
invocation_observers: list[Callable[[str, float], None]] = []


class FunctionNotFound(LookupError):
    """No registered function answers to this name, ARN or logical id."""


class FunctionError(Exception):
    """A handler raised: carries what Lambda puts in the error payload."""

    def __init__(self, error_type: str, error_message: str, stack_trace: list[str] | None = None) -> None:
        super().__init__(f"{error_type}: {error_message}")
        self.error_type = error_type
        self.error_message = error_message
        self.stack_trace = stack_trace or []

    @property
    def payload(self) -> dict[str, Any]:
        """The JSON body Lambda answers for an unhandled error."""
        return {
            "errorMessage": self.error_message,
            "errorType": self.error_type,
            "stackTrace": self.stack_trace,
        }


class FunctionTimeout(FunctionError):
    def __init__(self, function_name: str, timeout_s: float) -> None:
        super().__init__("Sandbox.Timedout", f"Task timed out after {timeout_s:.2f} seconds")
        self.function_name = function_name


@dataclass(frozen=True)
class LocalFunction:
    logical_id: str
    function_name: str
    arn: str
    code_dir: Path
    handler: str  # "module.attribute", e.g. "app.lambda_handler"
    environment: dict[str, str] = field(default_factory=dict)
    timeout_s: float = DEFAULT_TIMEOUT_S
    memory_mb: int = DEFAULT_MEMORY_MB


class LambdaContext:
    """What handlers read from Lambda's context object (Powertools reads these attributes)."""

    def __init__(self, function: LocalFunction, timeout_s: float) -> None:
        self.function_name = function.function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = function.arn
        self.memory_limit_in_mb = function.memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function.function_name}"
        self.log_stream_name = f"local/{self.aws_request_id}"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class Invocation:
    """One call, kept so tests and the CLI can see what ran."""

    function_name: str
    event: Any
    result: Any = None
    error: FunctionError | None = None


_ARN_NAME = re.compile(
    r"^arn:aws[a-z-]*:lambda:[^:]+:\d+:function:(?P<name>[^:]+)(?::(?P<qualifier>[^:]+))?$"
)


class FunctionRunner:
    """Registry + in-process invoker of local Lambda functions (thread safe)."""

    def __init__(self) -> None:
        self._functions: dict[str, LocalFunction] = {}
        # Function name -> handlers of its idle execution environments.
        self._idle: dict[str, list[Callable[[Any, Any], Any]]] = {}
        self._lock = threading.Lock()
        self.invocations: list[Invocation] = []

    def register(self, function: LocalFunction) -> None:
        with self._lock:
            if function.function_name in self._functions:
                raise ValueError(f"function {function.function_name!r} is already registered")
            self._functions[function.function_name] = function

    @property
    def functions(self) -> dict[str, LocalFunction]:
        """Function name -> registration."""
        return dict(self._functions)

    def find(self, name_or_arn_or_logical_id: str) -> LocalFunction | None:
        key = name_or_arn_or_logical_id
        match = _ARN_NAME.match(key)
        if match:
            key = match.group("name")
        elif key.count(":") == 1 and not key.startswith("arn:"):  # "name:qualifier"
            key = key.split(":", 1)[0]
        with self._lock:
            if key in self._functions:
                return self._functions[key]
            for function in self._functions.values():
                if function.logical_id == key:
                    return function
        return None

    def get(self, name_or_arn_or_logical_id: str) -> LocalFunction:
        function = self.find(name_or_arn_or_logical_id)
        if function is None:
            known = ", ".join(sorted(self._functions)) or "none"
            raise FunctionNotFound(f"no local function {name_or_arn_or_logical_id!r} (registered: {known})")
        return function

    def invoke(self, name_or_arn_or_logical_id: str, event: Any, *, timeout_s: float | None = None) -> Any:
        """Run the handler with `event` and return what it returns.

        Raises `FunctionError` for a handler exception and `FunctionTimeout` when the handler overruns
        its timeout (the handler's thread is left to finish: Python cannot kill it).
        """
        function = self.get(name_or_arn_or_logical_id)
        _own_log_keys_per_invocation()
        handler = self._take_environment(function)
        _own_resolver_request_per_invocation()
        limit = function.timeout_s if timeout_s is None else timeout_s
        context = LambdaContext(function, limit)
        invocation = Invocation(function.function_name, event)
        outcome: dict[str, Any] = {}

        def run() -> None:
            _invocation.active = True
            _invocation.function_name = function.function_name
            began = time.monotonic()
            try:
                outcome["result"] = handler(event, context)
            except BaseException as exc:  # noqa: BLE001  (whatever a handler raises is reported, like Lambda)
                outcome["error"] = FunctionError(
                    type(exc).__name__,
                    str(exc),
                    traceback.format_exception(exc)[1:],
                )
            finally:
                for observe in invocation_observers:
                    observe(function.function_name, time.monotonic() - began)
                # Free for the next invocation only once this one is over (even after a timeout).
                self._return_environment(function, handler)

        worker = threading.Thread(target=run, name=f"lambda-{function.function_name}", daemon=True)
        worker.start()
        worker.join(limit)
        try:
            if worker.is_alive():
                invocation.error = FunctionTimeout(function.function_name, limit)
                raise invocation.error
            if "error" in outcome:
                invocation.error = outcome["error"]
                raise outcome["error"]
            invocation.result = outcome.get("result")
            return invocation.result
        finally:
            with self._lock:
                self.invocations.append(invocation)

    def _take_environment(self, function: LocalFunction) -> Callable[[Any, Any], Any]:
        """An idle execution environment of the function (its handler), else a new one. Like Lambda,
        an environment serves one invocation at a time: concurrent invocations each get their own
        copy of the handler module (its globals, e.g. a Powertools resolver's per-request context)."""
        with self._lock:
            idle = self._idle.setdefault(function.function_name, [])
            if idle:
                return idle.pop()
        return self._load_handler(function)

    def _return_environment(self, function: LocalFunction, handler: Callable[[Any, Any], Any]) -> None:
        with self._lock:
            self._idle.setdefault(function.function_name, []).append(handler)

    def _load_handler(self, function: LocalFunction) -> Callable[[Any, Any], Any]:
        module_path, _, attribute = function.handler.rpartition(".")
        if not module_path or not attribute:
            raise FunctionError("Runtime.MalformedHandlerName", f"Bad handler '{function.handler}'")
        module = _load_module(function.code_dir, module_path)
        handler: Callable[[Any, Any], Any] | None = getattr(module, attribute, None)
        if not callable(handler):
            raise FunctionError(
                "Runtime.HandlerNotFound", f"Handler '{attribute}' missing on module '{module_path}'"
            )
        return handler


def _own_resolver_request_per_invocation() -> None:
    """Give each invocation its own Powertools event-handler request.

    Powertools' resolvers keep the request being resolved (and its Lambda context) on a class
    attribute, `BaseRouter.current_event`, that every resolver and every copy of a handler module
    reads. On Lambda an environment serves one invocation at a time, so that is the invocation's
    own request; here invocations run at once in one process, and a route reading
    `app.current_event` would read whichever request was resolved last (one caller's body sent
    under another caller's job). Both attributes are therefore kept per invocation thread, as the
    Logger's keys are; other threads share one value, as before.
    """
    global _router_isolation_installed  # noqa: PLW0603  (a process-wide patch, applied once)
    if _router_isolation_installed:
        return
    resolvers = sys.modules.get("aws_lambda_powertools.event_handler.api_gateway")
    if resolvers is None:  # no handler has loaded Powertools' event handler yet
        return
    with _log_isolation_lock:
        if _router_isolation_installed:
            return
        base_router: Any = resolvers.BaseRouter
        outside: dict[str, Any] = {}

        def values() -> dict[str, Any]:
            if not getattr(_invocation, "active", False):
                return outside
            own: dict[str, Any] = _invocation.__dict__.setdefault("router_request", {})
            return own

        class PerInvocation:
            """The attribute on instances (`app.current_event`) and through subclasses."""

            def __init__(self, name: str) -> None:
                self.name = name

            def __get__(self, instance: Any, owner: Any = None) -> Any:
                try:
                    return values()[self.name]
                except KeyError:
                    raise AttributeError(self.name) from None

            def __set__(self, instance: Any, value: Any) -> None:
                values()[self.name] = value

        def on_the_class(attribute: PerInvocation) -> property:
            # `BaseRouter.current_event = ...` is an assignment on the class: only a property of
            # its metaclass sees it.
            return property(
                lambda _cls: attribute.__get__(None),
                lambda _cls, value: attribute.__set__(None, value),
            )

        names = ("current_event", "lambda_context")
        router_meta = type("PerInvocationRouterMeta", (type(base_router),), {})
        for name in names:
            if name in base_router.__dict__:  # resolved before this patch: keep it for other threads
                outside[name] = base_router.__dict__[name]
            attribute = PerInvocation(name)
            type.__setattr__(base_router, name, attribute)
            setattr(router_meta, name, on_the_class(attribute))
        base_router.__class__ = router_meta
        _router_isolation_installed = True


def _own_log_keys_per_invocation() -> None:
    """Give each invocation its own Powertools Logger keys.

    On Lambda each function runs in its own process, so what `inject_lambda_context` and
    `append_keys` put on the logger (function name, request id, ...) belongs to that invocation. Here
    every function shares one process and one formatter: a second invocation's `clear_state` would
    relabel the first one's log lines. The formatter's key dict is therefore kept per invocation
    thread, starting from the keys the formatter had outside any invocation; other threads (module
    imports, threads a handler starts) keep using that shared dict.
    """
    global _log_isolation_installed  # noqa: PLW0603  (a process-wide patch, applied once)
    if _log_isolation_installed:  # every invoke calls this: skip the lock once it is done
        return
    with _log_isolation_lock:
        if _log_isolation_installed:
            return
        _log_isolation_installed = True
        try:
            from aws_lambda_powertools.logging.formatter import (  # noqa: PLC0415
                LambdaPowertoolsFormatter,
            )
        except ImportError:  # functions without Powertools log as they like
            return

    shared_attribute = "_local_runtime_shared_log_format"

    def shared(formatter: Any) -> dict[str, Any] | None:
        attributes = formatter.__dict__
        if shared_attribute not in attributes and "log_format" in attributes:
            # Made before this patch: its plain attribute becomes the shared dict (once).
            attributes[shared_attribute] = attributes.pop("log_format")
        found: dict[str, Any] | None = attributes.get(shared_attribute)
        return found

    def own_formats() -> dict[int, dict[str, Any]] | None:
        if not getattr(_invocation, "active", False):
            return None
        formats: dict[int, dict[str, Any]] = _invocation.__dict__.setdefault("log_formats", {})
        return formats

    def get_log_format(formatter: Any) -> dict[str, Any]:
        base = shared(formatter)
        if base is None:
            base = formatter.__dict__[shared_attribute] = {}
        formats = own_formats()
        if formats is None:
            return base
        return formats.setdefault(id(formatter), dict(base))

    def set_log_format(formatter: Any, value: dict[str, Any]) -> None:
        formats = own_formats()
        if formats is None or shared(formatter) is None:  # outside invocations, or being made
            formatter.__dict__[shared_attribute] = value
        else:
            formats[id(formatter)] = value

    LambdaPowertoolsFormatter.log_format = property(get_log_format, set_log_format)  # type: ignore[assignment,method-assign]


def _load_module(code_dir: Path, module_path: str) -> ModuleType:
    relative = Path(*module_path.split("."))
    candidates = [code_dir / relative.with_suffix(".py"), code_dir / relative / "__init__.py"]
    source = next((path for path in candidates if path.is_file()), None)
    if source is None:
        raise FunctionError(
            "Runtime.ImportModuleError", f"Unable to import module '{module_path}': no file under {code_dir}"
        )
    # A unique name: several functions commonly ship a module called `app`.
    unique_name = f"_local_lambda_{next(_module_counter)}_{module_path.replace('.', '_')}"
    spec = importlib.util.spec_from_file_location(unique_name, source)
    if spec is None or spec.loader is None:
        raise FunctionError("Runtime.ImportModuleError", f"Unable to import module '{module_path}'")
    module = importlib.util.module_from_spec(spec)
    # Sibling modules of the handler resolve like in Lambda, where the code dir is on sys.path; they
    # are taken out of sys.modules afterwards so another function's `helpers` is its own.
    siblings = {path.stem for path in code_dir.glob("*.py")} | {
        path.name for path in code_dir.iterdir() if (path / "__init__.py").is_file()
    }
    with _import_lock:
        shadowed = {
            name: sys.modules.pop(name) for name in list(sys.modules) if name.split(".")[0] in siblings
        }
        sys.modules[unique_name] = module
        sys.path.insert(0, str(code_dir))
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            sys.modules.pop(unique_name, None)
            raise FunctionError(
                "Runtime.ImportModuleError", f"Unable to import module '{module_path}': {exc}"
            ) from exc
        finally:
            sys.path.remove(str(code_dir))
            # A snapshot first: handlers running on other threads import lazily, outside this lock,
            # and iterating the live dict while they do raises "dictionary changed size".
            for name in [name for name in list(sys.modules) if name.split(".")[0] in siblings]:
                sys.modules.pop(name, None)
            sys.modules.update(shadowed)
    return module
