"""`LocalAws`: moto in this process (with the adaptations), the template's resources created in it,
and the template's functions registered with an in-process `FunctionRunner`.

    aws = LocalAws("template.yaml", parameters={"LogLevel": "DEBUG"}).start()
    aws.runner.invoke("ApiFunction", event)
    aws.boto3_client("dynamodb").scan(TableName=aws.resolve({"Ref": "JobsTable"}))
    aws.stop()

Function environment variables are process-global (handlers run in this process): they are merged
into `os.environ` at start, together with the moto endpoint, fake credentials and the region, and the
previous values come back at stop. Two functions giving one variable different values is an error.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
from botocore.config import Config

from runway_bridge_dev.local.functions import FunctionRunner
from runway_bridge_dev.local.moto_adaptations import MotoServer
from runway_bridge_dev.local.resources import ResourceContext, Skip, check_supported, create_resource
from runway_bridge_dev.local.template import (
    CreatedResource,
    Resolver,
    TemplateError,
    creation_order,
    load_template,
    parameter_values,
    parse_template,
    pseudo_parameters,
)

log = logging.getLogger(__name__)

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "123456789012"  # moto's default account
FAKE_ACCESS_KEY = "testing"
FAKE_SECRET_KEY = "testing"
# Clients of this process talk to moto on loopback: short timeouts, a few retries.
_CLIENT_CONFIG = Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 3, "mode": "standard"})

# Only one LocalAws at a time changes os.environ.
_environment_lock = threading.Lock()


class EnvironmentConflict(TemplateError):
    """Two functions set one environment variable to different values (they share one process)."""


class LocalAws:
    def __init__(
        self,
        template_path: str | os.PathLike[str],
        parameters: Mapping[str, Any] | None = None,
        *,
        region: str = DEFAULT_REGION,
        stack_name: str | None = None,
    ) -> None:
        self.template_path = Path(template_path)
        self.region = region
        self.account_id = DEFAULT_ACCOUNT_ID
        # Unique per instance: physical names never collide with another stack of this process.
        self.stack_name = stack_name or f"local-{secrets.token_hex(3)}"
        self._parameter_overrides = dict(parameters or {})
        self.runner = FunctionRunner()
        self.resources: dict[str, CreatedResource] = {}
        self.skipped: dict[str, Skip] = {}
        self.template: dict[str, Any] = {}
        self.endpoint_url = ""
        self.environment: dict[str, str] = {}
        self._server: MotoServer | None = None
        self._resolver: Resolver | None = None
        self._saved_environment: dict[str, str | None] | None = None
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> LocalAws:
        if self._server is not None:
            return self
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        document = parse_template(self.template_path)
        parameters = parameter_values(document, self._parameter_overrides)
        loaded = load_template(
            self.template_path,
            parameter_values=parameters,
            region=self.region,
            account_id=self.account_id,
            stack_name=self.stack_name,
        )
        self.template = loaded.template
        resources = self.template.get("Resources") or {}
        resolver = Resolver(
            self.template,
            parameters,
            pseudo_parameters(region=self.region, account_id=self.account_id, stack_name=self.stack_name),
            self.resources.get,
        )
        self._resolver = resolver
        active = {
            logical_id: resource
            for logical_id, resource in resources.items()
            if "Condition" not in resource or resolver.condition(str(resource["Condition"]))
        }
        check_supported(active)  # before anything exists

        self._server = MotoServer(self.runner)
        self.endpoint_url = self._server.start()
        context = ResourceContext(
            client=self.boto3_client,
            region=self.region,
            account_id=self.account_id,
            stack_name=self.stack_name,
            resolve=self.resolve,
            runner=self.runner,
            code_paths=loaded.code_paths,
            template_dir=loaded.directory,
        )
        for logical_id in creation_order(active):
            created, skip = create_resource(context, logical_id, active[logical_id])
            self.resources[logical_id] = created
            if skip is not None:
                self.skipped[logical_id] = skip
        self._apply_environment(context.function_environments)
        log.info(
            "local AWS at %s: %d resources created, %d not created (glue or skipped)",
            self.endpoint_url,
            len(self.resources) - len(self.skipped),
            len(self.skipped),
        )

    def _apply_environment(self, function_environments: Mapping[str, Mapping[str, str]]) -> None:
        merged: dict[str, str] = {}
        origin: dict[str, str] = {}
        for function, variables in function_environments.items():
            for name, value in variables.items():
                if name in merged and merged[name] != value:
                    raise EnvironmentConflict(
                        f"environment variable {name} is {merged[name]!r} in {origin[name]} but {value!r} in "
                        f"{function}: local functions share one process environment"
                    )
                merged[name] = value
                origin[name] = function
        merged.update(
            {
                "AWS_ENDPOINT_URL": self.endpoint_url,
                "AWS_ACCESS_KEY_ID": FAKE_ACCESS_KEY,
                "AWS_SECRET_ACCESS_KEY": FAKE_SECRET_KEY,
                "AWS_REGION": self.region,
                "AWS_DEFAULT_REGION": self.region,
            }
        )
        with _environment_lock:
            self._saved_environment = {name: os.environ.get(name) for name in [*merged, "AWS_SESSION_TOKEN"]}
            os.environ.update(merged)
            os.environ.pop("AWS_SESSION_TOKEN", None)
        self.environment = merged

    def stop(self) -> None:
        """Stop moto and restore the environment; safe to call twice."""
        if self._saved_environment is not None:
            with _environment_lock:
                for name, value in self._saved_environment.items():
                    if value is None:
                        os.environ.pop(name, None)
                    else:
                        os.environ[name] = value
            self._saved_environment = None
        if self._server is not None:
            self._server.stop()
            self._server = None
        with self._clients_lock:
            self._clients.clear()

    def __enter__(self) -> LocalAws:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # --- what callers use -----------------------------------------------------------------------

    def resolve(self, expression: Any) -> Any:
        """Resolve intrinsics (Ref, Fn::GetAtt, Fn::Sub ...) against parameters and created resources."""
        if self._resolver is None:
            raise RuntimeError("LocalAws is not started")
        return self._resolver.resolve(expression)

    def physical_id(self, logical_id: str) -> str:
        return str(self.resolve({"Ref": logical_id}))

    def boto3_client(self, service: str) -> Any:
        """A client bound to this moto server (cached per service; boto3 clients are thread safe)."""
        if not self.endpoint_url:
            raise RuntimeError("LocalAws is not started")
        with self._clients_lock:
            client = self._clients.get(service)
            if client is None:
                client = boto3.session.Session().client(  # type: ignore[call-overload]
                    service,
                    endpoint_url=self.endpoint_url,
                    region_name=self.region,
                    aws_access_key_id=FAKE_ACCESS_KEY,
                    aws_secret_access_key=FAKE_SECRET_KEY,
                    config=_CLIENT_CONFIG,
                )
                self._clients[service] = client
            return client

    @property
    def outputs(self) -> dict[str, Any]:
        """The template's Outputs, resolved."""
        if self._resolver is None:
            raise RuntimeError("LocalAws is not started")
        resolved = {}
        for name, output in (self.template.get("Outputs") or {}).items():
            if "Condition" in output and not self._resolver.condition(str(output["Condition"])):
                continue
            resolved[name] = self.resolve(output.get("Value"))
        return resolved
