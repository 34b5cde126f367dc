"""A stand-in for `LocalStack` while `LocalAws` (issue 3, engineer A) has not landed.

It does only what these tests need, from the real `template.yaml`: moto's server in this process,
the template's DynamoDB tables, bucket, bus and the Runway secret created in it, the real handlers
run in-process with the template's environment, and the REST API served by the local API Gateway
(`runway_bridge_dev.local.apigw`: real routing, REQUEST authorizer, proxy events) over loopback.
It exposes the parts of LocalStack's interface the tests use (`api_url`, `emulator`, `aws.runner`,
`aws.boto3_client`, `aws.resolve`), so switching to LocalStack is a one-line change in conftest.
"""

from __future__ import annotations

import concurrent.futures
import copy
import importlib.util
import os
import re
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
from moto.server import ThreadedMotoServer
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

from runway_bridge_dev.emulator import EmulatorConfig, RunwayEmulator
from runway_bridge_dev.local.apigw import ApiGatewayServer, LocalRestApi
from runway_bridge_dev.local.stack import rest_api_definitions

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = REPO_ROOT / "template.yaml"
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"


class _NoManagedPolicies:
    def load(self) -> dict[str, str]:
        return {}


class FunctionTimeoutError(Exception):
    """The handler ran past the function's timeout (Lambda kills it; here it is abandoned)."""

    error_message = "Task timed out"


class _Context:
    def __init__(self, name: str, timeout_s: float) -> None:
        self.function_name = name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "local"
        self._deadline = _monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - _monotonic()) * 1000))


def _monotonic() -> float:
    import time  # noqa: PLC0415

    return time.monotonic()


class Runner:
    """Runs the template's functions in-process, by logical id, name or ARN, within their timeout."""

    def __init__(self) -> None:
        self._functions: dict[str, tuple[ModuleType, str, float, str]] = {}
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=32)
        self.timeout_overrides: dict[str, float] = {}

    def register(self, logical_id: str, code_dir: Path, handler: str, timeout_s: float) -> None:
        module_name, function_name = handler.rsplit(".", 1)
        spec = importlib.util.spec_from_file_location(
            f"bridge_fn_{logical_id}_{uuid.uuid4().hex}", code_dir / f"{module_name}.py"
        )
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        entry = (module, function_name, timeout_s, logical_id)
        for name in (logical_id, f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{logical_id}"):
            self._functions[name] = entry

    def invoke(self, name_or_arn: str, event: dict[str, Any], *, timeout_s: float | None = None) -> Any:
        module, function_name, default_timeout, logical_id = self._functions[name_or_arn]
        limit = self.timeout_overrides.get(logical_id, timeout_s or default_timeout)
        handler = getattr(module, function_name)
        future = self._pool.submit(handler, copy.deepcopy(event), _Context(logical_id, limit))
        try:
            return future.result(timeout=limit)
        except concurrent.futures.TimeoutError:
            raise FunctionTimeoutError(f"{logical_id} timed out after {limit} s") from None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class Aws:
    def __init__(self, endpoint_url: str, physical: dict[str, str], runner: Runner) -> None:
        self.endpoint_url = endpoint_url
        self._physical = physical
        self.runner = runner
        self.region = REGION
        self.account_id = ACCOUNT_ID

    def boto3_client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint_url, region_name=REGION)  # type: ignore[call-overload]

    def resolve(self, value: Any) -> Any:
        return _resolve(value, self._physical)


def _resolve(value: Any, physical: dict[str, str]) -> Any:
    pseudo = {
        "AWS::Region": REGION,
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
    }

    def lookup(name: str) -> str:
        if name in pseudo:
            return pseudo[name]
        if name.endswith(".Arn"):
            logical = name[: -len(".Arn")]
            return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{logical}"
        return physical.get(name, name)

    if isinstance(value, dict):
        if set(value) == {"Ref"}:
            return lookup(value["Ref"])
        if set(value) == {"Fn::GetAtt"}:
            logical, attribute = value["Fn::GetAtt"]
            return lookup(f"{logical}.{attribute}")
        if set(value) == {"Fn::Sub"}:
            text, variables = value["Fn::Sub"], {}
            if isinstance(text, list):
                text, variables = text[0], _resolve(text[1], physical)
            return re.sub(
                r"\$\{([^}]+)\}",
                lambda match: str(variables.get(match.group(1)) or lookup(match.group(1))),
                text,
            )
        return {key: _resolve(item, physical) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve(item, physical) for item in value]
    return value


class BridgeHarness:
    """Start with `start()`, stop with `stop()`; see the module docs."""

    def __init__(self, emulator_config: EmulatorConfig) -> None:
        self._emulator_config = emulator_config
        self.emulator: RunwayEmulator | None = None
        self._moto: ThreadedMotoServer | None = None
        self._server: ApiGatewayServer | None = None
        self.runner = Runner()
        self._aws: Aws | None = None

    @property
    def aws(self) -> Aws:
        assert self._aws is not None
        return self._aws

    @property
    def api_url(self) -> str:
        assert self._server is not None
        return self._server.stage_url

    def start(self) -> BridgeHarness:
        self.emulator = RunwayEmulator(self._emulator_config).start()
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._moto.start()
        host, port = self._moto.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        document = yaml_parse(TEMPLATE.read_text())
        for resource in document["Resources"].values():
            for key in ("CodeUri", "ContentUri"):
                if key in resource.get("Properties", {}):
                    resource.setdefault("Metadata", {})["LocalPath"] = resource["Properties"][key]
                    resource["Properties"][key] = "s3://local/code.zip"
        suffix = uuid.uuid4().hex[:8]
        template = transform(
            copy.deepcopy(document), {"RunwayBaseUrl": self.emulator.base_url}, _NoManagedPolicies()
        )
        physical = {"BridgeApi": f"api{suffix}"}
        self._aws = Aws(endpoint, physical, self.runner)
        dynamodb, s3 = self._aws.boto3_client("dynamodb"), self._aws.boto3_client("s3")
        for logical_id, resource in template["Resources"].items():
            properties = resource.get("Properties", {})
            kind = resource["Type"]
            if kind == "AWS::DynamoDB::Table":
                name = physical[logical_id] = f"{logical_id}-{suffix}"
                dynamodb.create_table(
                    TableName=name,
                    BillingMode="PAY_PER_REQUEST",
                    AttributeDefinitions=properties["AttributeDefinitions"],
                    KeySchema=properties["KeySchema"],
                    **(
                        {"GlobalSecondaryIndexes": properties["GlobalSecondaryIndexes"]}
                        if "GlobalSecondaryIndexes" in properties
                        else {}
                    ),
                )
            elif kind == "AWS::S3::Bucket":
                physical[logical_id] = f"{logical_id.lower()}-{suffix}"
                s3.create_bucket(Bucket=physical[logical_id])
            elif kind == "AWS::Events::EventBus":
                physical[logical_id] = f"bus-{suffix}"
                self._aws.boto3_client("events").create_event_bus(Name=physical[logical_id])
        secret_name = str(template["Parameters"]["RunwaySecretName"]["Default"])
        self._aws.boto3_client("secretsmanager").create_secret(
            Name=secret_name, SecretString=self.emulator.api_key
        )
        physical.update(
            {
                "RunwayBaseUrl": self.emulator.base_url,
                "RunwaySecretName": secret_name,
                "Passthrough": "false",
                "LogLevel": "WARNING",
            }
        )
        environment: dict[str, str] = {"AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": REGION}
        for logical_id, resource in document["Resources"].items():
            if resource["Type"] != "AWS::Serverless::Function":
                continue
            properties = template["Resources"][logical_id]["Properties"]
            variables = self._aws.resolve(properties.get("Environment", {}).get("Variables", {}))
            environment.update({key: str(value) for key, value in variables.items()})
            self.runner.register(
                logical_id,
                REPO_ROOT / resource["Metadata"]["LocalPath"],
                properties["Handler"],
                float(properties.get("Timeout", 3)),
            )
        os.environ.update(environment)
        (definition,) = rest_api_definitions(template, self._aws.resolve)
        api = LocalRestApi(definition, self.runner, region=REGION, account_id=ACCOUNT_ID)
        self._server = ApiGatewayServer(api, port=0)
        self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
        self.runner.close()
        if self._moto is not None:
            self._moto.stop()
        if self.emulator is not None:
            self.emulator.stop()
