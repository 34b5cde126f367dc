"""The whole bridge on one machine: `LocalAws` (moto + the template's resources + in-process
functions) with the Runway emulator, the local API Gateway, the SQS and DynamoDB stream pollers and
the scheduler.

    with LocalStack() as stack:
        httpx.get(f"{stack.api_url}/v1/health")

Everything binds to 127.0.0.1 on free ports unless a port is given.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from runway_bridge_dev.local.apigw import ApiGatewayServer, LocalRestApi, RestApiDefinition
from runway_bridge_dev.local.persistence import DataDir
from runway_bridge_dev.local.scheduler import LocalScheduler, ScheduleSpec
from runway_bridge_dev.local.sqs_poller import SqsEventSource, SqsPoller, check_visibility_covers_timeout
from runway_bridge_dev.local.stream_poller import StreamEventSource, StreamPoller

if TYPE_CHECKING:
    from runway_bridge_dev.emulator import EmulatorConfig, RunwayEmulator
    from runway_bridge_dev.local.aws import LocalAws

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_TEMPLATE = REPO_ROOT / "template.yaml"
# Template parameters the stack fills when the template declares them.
RUNWAY_BASE_URL_PARAMETER = "RunwayBaseUrl"
RUNWAY_SECRET_PARAMETER = "RunwaySecretName"
REAL_RUNWAY_BASE_URL = "https://api.dev.runwayml.com"
LAMBDA_DEFAULT_TIMEOUT_S = 3
PUBLIC_BASE_URL_VARIABLE = "BRIDGE_PUBLIC_BASE_URL"
# A Runway on loopback (the emulator, or a proxy in front of it) serves its outputs on loopback
# http, which the copier's address guard refuses unless this is set (an explicit value wins).
LOCAL_OUTPUTS_VARIABLE = "BRIDGE_ALLOW_LOCAL_OUTPUTS"
# The console plays outputs through stable links that redirect to presigned URLs of the local S3:
# its page may load media from that origin (an explicit value wins).
CONSOLE_MEDIA_VARIABLE = "BRIDGE_CONSOLE_MEDIA_SOURCES"

Resolver = Callable[[Any], Any]


@dataclass(frozen=True)
class RealRunway:
    """Talk to the real Runway API instead of the emulator (explicit opt-in only)."""

    api_key: str
    base_url: str = REAL_RUNWAY_BASE_URL


def _resources_of_type(template: Mapping[str, Any], resource_type: str) -> dict[str, Mapping[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in (template.get("Resources") or {}).items()
        if resource.get("Type") == resource_type
    }


def _refers_to(value: Any, logical_id: str) -> bool:
    return value in ({"Ref": logical_id}, logical_id)


def rest_api_definitions(template: Mapping[str, Any], resolve: Resolver) -> list[RestApiDefinition]:
    """Every `AWS::ApiGateway::RestApi` with its body resolved and its stages (explicit ones first)."""
    definitions = []
    stages_by_api: dict[str, dict[str, Mapping[str, str]]] = {}
    for stage in _resources_of_type(template, "AWS::ApiGateway::Stage").values():
        properties = stage.get("Properties") or {}
        for api_id in _resources_of_type(template, "AWS::ApiGateway::RestApi"):
            if _refers_to(properties.get("RestApiId"), api_id):
                variables = resolve(properties.get("Variables") or {})
                stages_by_api.setdefault(api_id, {})[str(resolve(properties["StageName"]))] = variables
    for deployment in _resources_of_type(template, "AWS::ApiGateway::Deployment").values():
        properties = deployment.get("Properties") or {}
        stage_name = properties.get("StageName")
        for api_id in _resources_of_type(template, "AWS::ApiGateway::RestApi"):
            if stage_name and _refers_to(properties.get("RestApiId"), api_id):
                # SAM's deployments also create a stage literally named "Stage".
                stages_by_api.setdefault(api_id, {}).setdefault(str(resolve(stage_name)), {})
    for logical_id, resource in _resources_of_type(template, "AWS::ApiGateway::RestApi").items():
        properties = resource.get("Properties") or {}
        if "Body" not in properties:
            raise ValueError(f"REST API {logical_id}: only an inline swagger Body is emulated")
        definitions.append(
            RestApiDefinition(
                logical_id=logical_id,
                api_id=str(resolve({"Ref": logical_id})),
                body=resolve(properties["Body"]),
                stages=stages_by_api.get(logical_id) or {"Prod": {}},
                api_key_source=str(resolve(properties.get("ApiKeySourceType", "HEADER"))),
            )
        )
    return definitions


def queue_url_for_arn(sqs: Any, arn: str) -> str:
    _, _, _, _, account_id, name = arn.split(":", 5)
    return str(sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account_id)["QueueUrl"])


def _function_timeout_s(template: Mapping[str, Any], resolve: Resolver, function: str) -> float:
    for logical_id, resource in _resources_of_type(template, "AWS::Lambda::Function").items():
        names = {
            logical_id,
            str(resolve({"Ref": logical_id})),
            str(resolve({"Fn::GetAtt": [logical_id, "Arn"]})),
        }
        if function in names:
            return float(resolve((resource.get("Properties") or {}).get("Timeout", LAMBDA_DEFAULT_TIMEOUT_S)))
    raise ValueError(f"no function {function!r} in the template")


def sqs_event_sources(template: Mapping[str, Any], resolve: Resolver, sqs: Any) -> list[SqsEventSource]:
    """Every `AWS::Lambda::EventSourceMapping` reading an SQS queue; other sources fail loudly."""
    sources = []
    for logical_id, resource in _resources_of_type(template, "AWS::Lambda::EventSourceMapping").items():
        properties = resolve(resource.get("Properties") or {})
        source_arn = str(properties.get("EventSourceArn", ""))
        if _is_stream_arn(source_arn):
            continue  # stream_event_sources
        if not source_arn.startswith("arn:aws:sqs:"):
            raise ValueError(
                f"event source mapping {logical_id}: source {source_arn!r} (only SQS and DynamoDB streams "
                "are emulated)"
            )
        queue_url = queue_url_for_arn(sqs, source_arn)
        function = str(properties["FunctionName"])
        visibility = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["VisibilityTimeout"])
        check_visibility_covers_timeout(
            logical_id,
            int(visibility["Attributes"]["VisibilityTimeout"]),
            _function_timeout_s(template, resolve, function),
        )
        sources.append(
            SqsEventSource.from_properties(logical_id, properties, queue_url=queue_url, function=function)
        )
    return sources


def _is_stream_arn(arn: str) -> bool:
    return arn.startswith("arn:aws:dynamodb:") and "/stream/" in arn


def stream_event_sources(template: Mapping[str, Any], resolve: Resolver) -> list[StreamEventSource]:
    """Every `AWS::Lambda::EventSourceMapping` reading a DynamoDB stream."""
    sources = []
    for logical_id, resource in _resources_of_type(template, "AWS::Lambda::EventSourceMapping").items():
        properties = resolve(resource.get("Properties") or {})
        if _is_stream_arn(str(properties.get("EventSourceArn", ""))):
            sources.append(StreamEventSource.from_properties(logical_id, properties))
    return sources


def schedule_specs(
    template: Mapping[str, Any], resolve: Resolver, *, region: str, account_id: str
) -> list[ScheduleSpec]:
    return [
        ScheduleSpec.from_properties(
            logical_id, resolve(resource.get("Properties") or {}), region=region, account_id=account_id
        )
        for logical_id, resource in _resources_of_type(template, "AWS::Scheduler::Schedule").items()
    ]


class LocalStack:
    """Starts and stops every local piece in order; see the module docs."""

    def __init__(
        self,
        template_path: str | os.PathLike[str] = DEFAULT_TEMPLATE,
        *,
        parameters: Mapping[str, str] | None = None,
        emulator_config: EmulatorConfig | None = None,
        use_emulator: bool = True,
        real_runway: RealRunway | None = None,
        api_port: int = 0,
        schedule_interval_s: float | None = None,
        run_schedules: bool = True,
        data_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        if real_runway is not None and use_emulator:
            use_emulator = False
        self.template_path = Path(template_path)
        self._parameters = dict(parameters or {})
        self._emulator_config = emulator_config
        self._use_emulator = use_emulator
        self._real_runway = real_runway
        self._api_port = api_port
        self._schedule_interval_s = schedule_interval_s
        self._run_schedules = run_schedules
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self._data: DataDir | None = None
        self.emulator: RunwayEmulator | None = None
        self._aws: LocalAws | None = None
        self.api_servers: dict[str, ApiGatewayServer] = {}
        self.pollers: dict[str, SqsPoller | StreamPoller] = {}
        self._scheduler: LocalScheduler | None = None
        self._started = False
        self._set_local_outputs = False
        self._set_console_media = False

    # --- lifecycle --------------------------------------------------------------------------------

    def start(self) -> LocalStack:
        if self._started:
            return self
        self._started = True
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        from runway_bridge_dev.local.aws import LocalAws  # noqa: PLC0415  (moto is slow to import)

        parameters = dict(self._parameters)
        declared = self._declared_parameters()
        runway_key: str | None = None
        if self._use_emulator:
            from runway_bridge_dev.emulator import EmulatorConfig, RunwayEmulator  # noqa: PLC0415

            config = self._emulator_config or EmulatorConfig()
            if "fetch_inputs" not in config.model_fields_set:
                # s3:// inputs reach it as presigned GETs on moto (loopback http): it fetches each
                # input at create, as Runway would, and refuses what it cannot fetch.
                config = config.model_copy(update={"fetch_inputs": True})
            self.emulator = RunwayEmulator(config).start()
            runway_key = self.emulator.api_key
            if RUNWAY_BASE_URL_PARAMETER in declared:
                parameters.setdefault(RUNWAY_BASE_URL_PARAMETER, self.emulator.base_url)
        elif self._real_runway is not None:
            runway_key = self._real_runway.api_key
            if RUNWAY_BASE_URL_PARAMETER in declared:
                parameters.setdefault(RUNWAY_BASE_URL_PARAMETER, self._real_runway.base_url)

        runway_url = parameters.get(RUNWAY_BASE_URL_PARAMETER, "")
        if _is_loopback_url(runway_url) and LOCAL_OUTPUTS_VARIABLE not in os.environ:
            os.environ[LOCAL_OUTPUTS_VARIABLE] = "true"
            self._set_local_outputs = True

        self._aws = LocalAws(self.template_path, parameters=parameters)
        self._aws.start()
        aws = self._aws
        if CONSOLE_MEDIA_VARIABLE not in os.environ:
            os.environ[CONSOLE_MEDIA_VARIABLE] = _origin(aws.endpoint_url)
            self._set_console_media = True
        if self.data_dir is not None:
            self._data = DataDir(
                self.data_dir,
                template=aws.template,
                physical_id=lambda logical_id: str(aws.resolve({"Ref": logical_id})),
                client=aws.boto3_client,
            )
            log.info("restored from %s: %s", self.data_dir, self._data.restore())
        # After the restore: the key of this run wins over a saved one.
        if runway_key is not None and RUNWAY_SECRET_PARAMETER in declared:
            self._store_runway_key(runway_key, parameters)

        template = aws.template
        for definition in rest_api_definitions(template, aws.resolve):
            api = LocalRestApi(definition, aws.runner, region=aws.region, account_id=aws.account_id)
            port = self._api_port if not self.api_servers else 0
            server = ApiGatewayServer(api, port=port)
            server.start()
            self.api_servers[definition.logical_id] = server

        if self.api_servers and PUBLIC_BASE_URL_VARIABLE in os.environ:
            # Stable output links in notifications point at this local API, not a deployed one.
            os.environ[PUBLIC_BASE_URL_VARIABLE] = self.api_url

        sqs = aws.boto3_client("sqs")
        for source in sqs_event_sources(template, aws.resolve, sqs):
            poller = SqsPoller(source, sqs=sqs, invoker=aws.runner, region=aws.region)
            poller.start()
            self.pollers[source.logical_id] = poller
        streams = aws.boto3_client("dynamodbstreams")
        for stream_source in stream_event_sources(template, aws.resolve):
            stream_poller = StreamPoller(
                stream_source, streams=streams, invoker=aws.runner, region=aws.region
            )
            stream_poller.start()
            self.pollers[stream_source.logical_id] = stream_poller

        self._scheduler = LocalScheduler(
            schedule_specs(template, aws.resolve, region=aws.region, account_id=aws.account_id),
            client=aws.boto3_client,
            invoker=aws.runner,
            queue_url_for_arn=lambda arn: queue_url_for_arn(sqs, arn),
            interval_s=self._schedule_interval_s,
        )
        if self._run_schedules:
            self._scheduler.start()

    def _declared_parameters(self) -> set[str]:
        from samtranslator.yaml_helper import yaml_parse  # noqa: PLC0415  (knows !Ref, !Sub, ...)

        document = yaml_parse(self.template_path.read_text()) or {}
        return set(document.get("Parameters") or {})

    def _store_runway_key(self, key: str, parameters: Mapping[str, str]) -> None:
        """Create the secret a deployment expects to exist before `sam deploy`."""
        assert self._aws is not None
        name = parameters.get(RUNWAY_SECRET_PARAMETER) or self._aws.resolve({"Ref": RUNWAY_SECRET_PARAMETER})
        secrets = self._aws.boto3_client("secretsmanager")
        try:
            secrets.create_secret(Name=str(name), SecretString=key)
        except secrets.exceptions.ResourceExistsException:
            secrets.put_secret_value(SecretId=str(name), SecretString=key)

    def stop(self) -> None:
        """Stop everything that started, newest first; safe to call twice."""
        steps: list[tuple[str, Callable[[], None]]] = []
        if self._scheduler is not None:
            steps.append(("scheduler", self._scheduler.stop))
        for poller in self.pollers.values():
            poller.request_stop()  # all pollers wind down together
        steps.extend((f"poller {name}", poller.stop) for name, poller in self.pollers.items())
        steps.extend((f"API {name}", server.stop) for name, server in self.api_servers.items())
        if self._data is not None:
            data = self._data
            steps.append(("saving the data dir", lambda: log.info("saved: %s", data.save())))
        if self._aws is not None:
            steps.append(("AWS", self._aws.stop))
        if self.emulator is not None:
            steps.append(("emulator", self.emulator.stop))
        for name, step in steps:
            try:
                step()
            except Exception:  # keep stopping the rest
                log.exception("stopping %s failed", name)
        self._scheduler = None
        self.pollers = {}
        self.api_servers = {}
        self._aws = None
        self._data = None
        self.emulator = None
        if self._set_local_outputs:
            os.environ.pop(LOCAL_OUTPUTS_VARIABLE, None)
            self._set_local_outputs = False
        if self._set_console_media:
            os.environ.pop(CONSOLE_MEDIA_VARIABLE, None)
            self._set_console_media = False
        self._started = False

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # --- what callers use -------------------------------------------------------------------------

    @property
    def aws(self) -> LocalAws:
        if self._aws is None:
            raise RuntimeError("the stack is not running: call start() or use it as a context manager")
        return self._aws

    @property
    def scheduler(self) -> LocalScheduler:
        if self._scheduler is None:
            raise RuntimeError("the stack is not running")
        return self._scheduler

    @property
    def api_urls(self) -> dict[str, str]:
        """REST API logical id -> its URL with the stage, like a deployed invoke URL."""
        return {name: server.stage_url for name, server in self.api_servers.items()}

    @property
    def api_url(self) -> str:
        """The invoke URL of the template's REST API (the first one if there are several)."""
        if not self.api_servers:
            raise RuntimeError("the template has no REST API (or the stack is not running)")
        return next(iter(self.api_servers.values())).stage_url

    @property
    def runway_base_url(self) -> str | None:
        if self.emulator is not None:
            return self.emulator.base_url
        return self._real_runway.base_url if self._real_runway else None


def _is_loopback_url(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _origin(url: str) -> str:
    """`scheme://host:port` of a URL (a CSP source)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
