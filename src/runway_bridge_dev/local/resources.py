"""The resource-type table of the local runtime: for every CloudFormation type a transformed template
may contain, either a creator (which makes the resource in moto, or registers a function with the
in-process runner) or an explicit skip/glue entry with the reason. A type that is in neither list
fails loudly (`UnsupportedResourceType`), naming the type and the logical id.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import string
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runway_bridge_dev.local.functions import (
    DEFAULT_MEMORY_MB,
    DEFAULT_TIMEOUT_S,
    FunctionRunner,
    LocalFunction,
)
from runway_bridge_dev.local.template import CreatedResource, TemplateError

log = logging.getLogger(__name__)


class UnsupportedResourceType(TemplateError):
    """The template uses a resource type the local runtime neither emulates nor knowingly skips."""

    def __init__(self, resource_type: str, logical_id: str) -> None:
        super().__init__(
            f"resource {logical_id}: type {resource_type} is not supported by the local runtime "
            "(add it to runway_bridge_dev.local.resources with a creator or a reasoned skip)"
        )
        self.resource_type = resource_type
        self.logical_id = logical_id


@dataclass
class EventTarget:
    """An EventBridge rule target as the rule-target hook needs it (see moto_adaptations)."""

    rule_arn: str
    target: dict[str, Any]


@dataclass
class ResourceContext:
    client: Callable[[str], Any]
    region: str
    account_id: str
    stack_name: str
    resolve: Callable[[Any], Any]
    runner: FunctionRunner
    code_paths: Mapping[str, Path]
    template_dir: Path
    event_targets: list[EventTarget] = field(default_factory=list)
    # function name -> its resolved environment variables
    function_environments: dict[str, dict[str, str]] = field(default_factory=dict)

    def physical_name(self, logical_id: str, *, max_length: int, lowercase: bool = False) -> str:
        """`<stack>-<logical id>-<suffix>` like CloudFormation, shortened to fit the service's limit."""
        suffix = "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(12))
        stem = f"{self.stack_name}-{logical_id}"[: max_length - len(suffix) - 1]
        name = f"{stem}-{suffix}"
        return name.lower() if lowercase else name

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        region_part = self.region if region else ""
        account_part = self.account_id if account else ""
        return f"arn:aws:{service}:{region_part}:{account_part}:{resource}"


Creator = Callable[[ResourceContext, str, dict[str, Any]], CreatedResource]


def _props(context: ResourceContext, raw: Mapping[str, Any]) -> dict[str, Any]:
    resolved = context.resolve(dict(raw))
    return resolved if isinstance(resolved, dict) else {}


# --- creators -------------------------------------------------------------------------------------


def create_dynamodb_table(context: ResourceContext, logical_id: str, raw: dict[str, Any]) -> CreatedResource:
    properties = _props(context, raw)
    name = properties.get("TableName") or context.physical_name(logical_id, max_length=255)
    request: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "KeySchema": properties["KeySchema"],
        "BillingMode": properties.get("BillingMode", "PROVISIONED"),
    }
    if request["BillingMode"] == "PROVISIONED":
        request["ProvisionedThroughput"] = properties.get(
            "ProvisionedThroughput", {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        )
    for index_kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        indexes = properties.get(index_kind)
        if indexes:
            request[index_kind] = [
                {
                    k: v
                    for k, v in index.items()
                    if k in ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput")
                }
                for index in indexes
            ]
    stream = properties.get("StreamSpecification")
    if stream:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    dynamodb = context.client("dynamodb")
    description = dynamodb.create_table(**request)["TableDescription"]
    ttl = properties.get("TimeToLiveSpecification")
    if ttl and str(ttl.get("Enabled")).lower() == "true":
        # Stored only: moto never expires items (readers must treat past expiresAt as gone).
        dynamodb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
        )
    attributes = {"Arn": description["TableArn"]}
    if "LatestStreamArn" in description:
        attributes["StreamArn"] = description["LatestStreamArn"]
    return CreatedResource(ref=name, attributes=attributes)


def create_s3_bucket(context: ResourceContext, logical_id: str, raw: dict[str, Any]) -> CreatedResource:
    properties = _props(context, raw)
    name = properties.get("BucketName") or context.physical_name(logical_id, max_length=63, lowercase=True)
    s3 = context.client("s3")
    if context.region == "us-east-1":
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": context.region})
    versioning = properties.get("VersioningConfiguration")
    if versioning:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": versioning["Status"]})
    cors = properties.get("CorsConfiguration")
    if cors:
        s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": cors["CorsRules"]})
    return CreatedResource(
        ref=name,
        attributes={
            "Arn": f"arn:aws:s3:::{name}",
            "DomainName": f"{name}.s3.amazonaws.com",
            "RegionalDomainName": f"{name}.s3.{context.region}.amazonaws.com",
            "WebsiteURL": f"http://{name}.s3-website-{context.region}.amazonaws.com",
        },
    )


def create_s3_bucket_policy(
    context: ResourceContext, logical_id: str, raw: dict[str, Any]
) -> CreatedResource:
    properties = _props(context, raw)
    document = dict(properties["PolicyDocument"])
    statements = document.get("Statement") or []
    statements = [statements] if isinstance(statements, dict) else list(statements)
    # moto enforces Principal "*" statements but ignores their Condition: a conditional Deny (e.g. the
    # TLS-only `aws:SecureTransport` rule; moto serves plain HTTP) would deny every request locally.
    kept = [statement for statement in statements if "Condition" not in statement]
    dropped = [
        str(statement.get("Sid", index))
        for index, statement in enumerate(statements)
        if "Condition" in statement
    ]
    if dropped:
        log.info("%s: conditional statements not applied locally: %s", logical_id, ", ".join(dropped))
    if kept:
        document["Statement"] = kept
        context.client("s3").put_bucket_policy(Bucket=properties["Bucket"], Policy=json.dumps(document))
    return CreatedResource(ref=f"{properties['Bucket']}-policy")


_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
)


def create_sqs_queue(context: ResourceContext, logical_id: str, raw: dict[str, Any]) -> CreatedResource:
    properties = _props(context, raw)
    fifo = str(properties.get("FifoQueue", "false")).lower() == "true"
    name = properties.get("QueueName")
    if not name:
        name = context.physical_name(logical_id, max_length=75 if fifo else 80)
        name = f"{name}.fifo" if fifo else name
    attributes = {key: _attribute_text(properties[key]) for key in _QUEUE_ATTRIBUTES if key in properties}
    for key in ("RedrivePolicy", "RedriveAllowPolicy"):
        if key in properties:
            value = properties[key]
            attributes[key] = value if isinstance(value, str) else json.dumps(value)
    sqs = context.client("sqs")
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = context.arn("sqs", name)
    return CreatedResource(ref=url, attributes={"Arn": arn, "QueueName": name, "QueueUrl": url})


def _attribute_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def create_sns_topic(context: ResourceContext, logical_id: str, raw: dict[str, Any]) -> CreatedResource:
    properties = _props(context, raw)
    fifo = str(properties.get("FifoTopic", "false")).lower() == "true"
    name = properties.get("TopicName") or context.physical_name(logical_id, max_length=251 if fifo else 256)
    if fifo and not name.endswith(".fifo"):
        name = f"{name}.fifo"
    topic_attributes = {"FifoTopic": "true"} if fifo else {}
    if "ContentBasedDeduplication" in properties:
        topic_attributes["ContentBasedDeduplication"] = _attribute_text(
            properties["ContentBasedDeduplication"]
        )
    sns = context.client("sns")
    arn = sns.create_topic(Name=name, Attributes=topic_attributes)["TopicArn"]
    for subscription in properties.get("Subscription") or []:
        sns.subscribe(TopicArn=arn, Protocol=subscription["Protocol"], Endpoint=subscription["Endpoint"])
    return CreatedResource(ref=arn, attributes={"TopicArn": arn, "TopicName": name})


_SUBSCRIPTION_ATTRIBUTES = ("FilterPolicy", "FilterPolicyScope", "RawMessageDelivery", "RedrivePolicy")


def create_sns_subscription(
    context: ResourceContext, logical_id: str, raw: dict[str, Any]
) -> CreatedResource:
    properties = _props(context, raw)
    attributes = {}
    for key in _SUBSCRIPTION_ATTRIBUTES:
        if key in properties:
            value = properties[key]
            attributes[key] = json.dumps(value) if isinstance(value, (dict, list)) else _attribute_text(value)
    response = context.client("sns").subscribe(
        TopicArn=properties["TopicArn"],
        Protocol=properties["Protocol"],
        Endpoint=properties["Endpoint"],
        Attributes=attributes,
        ReturnSubscriptionArn=True,
    )
    return CreatedResource(ref=response["SubscriptionArn"], attributes={"Arn": response["SubscriptionArn"]})


def create_event_bus(context: ResourceContext, logical_id: str, raw: dict[str, Any]) -> CreatedResource:
    properties = _props(context, raw)
    name = properties["Name"]
    arn = context.client("events").create_event_bus(Name=name)["EventBusArn"]
    return CreatedResource(ref=name, attributes={"Arn": arn, "Name": name})


def create_event_rule(context: ResourceContext, logical_id: str, raw: dict[str, Any]) -> CreatedResource:
    properties = _props(context, raw)
    name = properties.get("Name") or context.physical_name(logical_id, max_length=64)
    bus = properties.get("EventBusName", "default")
    if isinstance(bus, str) and bus.startswith("arn:"):
        bus = bus.rsplit("/", 1)[-1]
    request: dict[str, Any] = {"Name": name, "EventBusName": bus, "State": properties.get("State", "ENABLED")}
    if "EventPattern" in properties:
        pattern = properties["EventPattern"]
        request["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
    if "ScheduleExpression" in properties:
        # Stored only: a local rule never fires on a schedule (use AWS::Scheduler::Schedule).
        request["ScheduleExpression"] = properties["ScheduleExpression"]
    if "Description" in properties:
        request["Description"] = properties["Description"]
    events = context.client("events")
    arn = events.put_rule(**request)["RuleArn"]
    targets = properties.get("Targets") or []
    if targets:
        events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
    context.event_targets.extend(EventTarget(arn, target) for target in targets)
    # CloudFormation's Ref of a rule on a custom bus is "<bus>|<name>"; on the default bus the name.
    ref = name if bus == "default" else f"{bus}|{name}"
    return CreatedResource(ref=ref, attributes={"Arn": arn})


def create_secret(context: ResourceContext, logical_id: str, raw: dict[str, Any]) -> CreatedResource:
    properties = _props(context, raw)
    name = properties.get("Name") or context.physical_name(logical_id, max_length=200)
    request: dict[str, Any] = {"Name": name}
    if "SecretString" in properties:
        request["SecretString"] = properties["SecretString"]
    elif "GenerateSecretString" in properties:
        request["SecretString"] = _generated_secret(properties["GenerateSecretString"])
    if "Description" in properties:
        request["Description"] = properties["Description"]
    arn = context.client("secretsmanager").create_secret(**request)["ARN"]
    return CreatedResource(ref=arn, attributes={"Id": arn})


def _generated_secret(spec: Mapping[str, Any]) -> str:
    length = int(spec.get("PasswordLength", 32))
    excluded = set(str(spec.get("ExcludeCharacters", "")))
    alphabet = [c for c in string.ascii_letters + string.digits + "!#$%&*+-.:=?@^_" if c not in excluded]
    value = "".join(secrets.choice(alphabet) for _ in range(length))
    template = spec.get("SecretStringTemplate")
    key = spec.get("GenerateStringKey")
    if template and key:
        document = json.loads(template)
        document[key] = value
        return json.dumps(document)
    return value


def create_state_machine(context: ResourceContext, logical_id: str, raw: dict[str, Any]) -> CreatedResource:
    properties = _props(context, raw)
    name = properties.get("StateMachineName") or context.physical_name(logical_id, max_length=80)
    if "Definition" in properties:
        definition = json.dumps(properties["Definition"])
    elif "DefinitionString" in properties:
        definition = str(properties["DefinitionString"])
    else:
        raise TemplateError(
            f"state machine {logical_id}: only an inline Definition/DefinitionString is emulated"
        )
    for key, value in (properties.get("DefinitionSubstitutions") or {}).items():
        definition = definition.replace("${" + key + "}", str(value))
    request: dict[str, Any] = {
        "name": name,
        "definition": definition,
        "roleArn": properties.get("RoleArn") or context.arn("iam", f"role/{name}", region=False),
        "type": properties.get("StateMachineType", "STANDARD"),
    }
    arn = context.client("stepfunctions").create_state_machine(**request)["stateMachineArn"]
    return CreatedResource(ref=arn, attributes={"Arn": arn, "Name": name})


def create_lambda_function(context: ResourceContext, logical_id: str, raw: dict[str, Any]) -> CreatedResource:
    # Only the fields the local runner needs are resolved (roles, layers ... are not emulated).
    resolve = context.resolve
    name = str(resolve(raw.get("FunctionName") or "") or context.physical_name(logical_id, max_length=64))
    arn = context.arn("lambda", f"function:{name}")
    code_dir = context.code_paths.get(logical_id)
    if code_dir is None:
        raise TemplateError(f"function {logical_id}: only local code (CodeUri / Code path) runs locally")
    variables = resolve(((raw.get("Environment") or {}).get("Variables")) or {}) or {}
    environment = {str(k): _attribute_text(v) for k, v in variables.items()}
    context.function_environments[name] = environment
    context.runner.register(
        LocalFunction(
            logical_id=logical_id,
            function_name=name,
            arn=arn,
            code_dir=code_dir,
            handler=str(resolve(raw.get("Handler", ""))),
            environment=environment,
            timeout_s=float(resolve(raw.get("Timeout", DEFAULT_TIMEOUT_S))),
            memory_mb=int(resolve(raw.get("MemorySize", DEFAULT_MEMORY_MB))),
        )
    )
    return CreatedResource(ref=name, attributes={"Arn": arn})


def create_layer_version(context: ResourceContext, logical_id: str, raw: dict[str, Any]) -> CreatedResource:
    # Not installed: the deployed package is importable from the venv already (see module docs).
    name = str(context.resolve(raw.get("LayerName") or logical_id))
    arn = context.arn("lambda", f"layer:{name}:1")
    return CreatedResource(ref=arn, attributes={"LayerVersionArn": arn})


def create_usage_plan(context: ResourceContext, logical_id: str, raw: dict[str, Any]) -> CreatedResource:
    properties = _props(context, raw)
    # Created in moto without ApiStages (the REST API is served by the local API Gateway, not moto),
    # so keys can be registered with it; its throttle is not enforced locally.
    request: dict[str, Any] = {
        "name": properties.get("UsagePlanName") or context.physical_name(logical_id, max_length=64)
    }
    if "Description" in properties:
        request["description"] = properties["Description"]
    throttle = properties.get("Throttle")
    if throttle:
        request["throttle"] = {
            "rateLimit": float(throttle.get("RateLimit", 0)),
            "burstLimit": int(throttle.get("BurstLimit", 0)),
        }
    plan_id = context.client("apigateway").create_usage_plan(**request)["id"]
    return CreatedResource(ref=plan_id, attributes={"Id": plan_id})


# --- placeholders for skipped and glue resources ---------------------------------------------------


def _random_id(length: int = 10) -> str:
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(length))


def placeholder(
    context: ResourceContext, logical_id: str, resource_type: str, raw: Mapping[str, Any]
) -> CreatedResource:
    """Ref/GetAtt values for a resource that is not created, shaped like the real ones."""
    name = context.physical_name(logical_id, max_length=64)
    if resource_type == "AWS::IAM::Role":
        arn = context.arn("iam", f"role/{name}", region=False)
        return CreatedResource(ref=name, attributes={"Arn": arn, "RoleId": f"AROA{_random_id(16).upper()}"})
    if resource_type == "AWS::IAM::ManagedPolicy":
        return CreatedResource(ref=context.arn("iam", f"policy/{name}", region=False))
    if resource_type == "AWS::ApiGateway::RestApi":
        api_id = _random_id()
        return CreatedResource(ref=api_id, attributes={"RootResourceId": _random_id(), "RestApiId": api_id})
    if resource_type == "AWS::ApiGateway::Stage":
        return CreatedResource(ref=str(context.resolve(raw.get("StageName", logical_id))))
    if resource_type == "AWS::ApiGateway::Authorizer":
        return CreatedResource(ref=_random_id(6), attributes={"AuthorizerId": _random_id(6)})
    if resource_type == "AWS::Lambda::EventSourceMapping":
        mapping_id = str(uuid.uuid4())
        return CreatedResource(
            ref=mapping_id,
            attributes={
                "Id": mapping_id,
                "EventSourceMappingArn": context.arn("lambda", f"event-source-mapping:{mapping_id}"),
            },
        )
    if resource_type == "AWS::Scheduler::Schedule":
        schedule_name = str(context.resolve(raw.get("Name") or name))
        group = str(context.resolve(raw.get("GroupName") or "default"))
        return CreatedResource(
            ref=schedule_name,
            attributes={"Arn": context.arn("scheduler", f"schedule/{group}/{schedule_name}")},
        )
    if resource_type == "AWS::Scheduler::ScheduleGroup":
        group_name = str(context.resolve(raw.get("Name") or name))
        return CreatedResource(
            ref=group_name, attributes={"Arn": context.arn("scheduler", f"schedule-group/{group_name}")}
        )
    if resource_type == "AWS::Logs::LogGroup":
        group_name = str(context.resolve(raw.get("LogGroupName") or name))
        return CreatedResource(
            ref=group_name, attributes={"Arn": context.arn("logs", f"log-group:{group_name}:*")}
        )
    if resource_type == "AWS::KMS::Key":
        key_id = str(uuid.uuid4())
        return CreatedResource(
            ref=key_id, attributes={"KeyId": key_id, "Arn": context.arn("kms", f"key/{key_id}")}
        )
    if resource_type == "AWS::Lambda::Version":
        function = str(context.resolve(raw.get("FunctionName", "")))
        return CreatedResource(ref=f"{function}:1", attributes={"Version": "1"})
    if resource_type == "AWS::Lambda::Alias":
        function = str(context.resolve(raw.get("FunctionName", "")))
        return CreatedResource(ref=f"{function}:{context.resolve(raw.get('Name', 'live'))}")
    digest = hashlib.sha256(f"{context.stack_name}/{logical_id}".encode()).hexdigest()[:12]
    return CreatedResource(ref=f"{logical_id}-{digest}")


@dataclass(frozen=True)
class Skip:
    reason: str
    glue: bool = False  # consumed by another local component (API server, poller, scheduler)


CREATORS: dict[str, Creator] = {
    "AWS::DynamoDB::Table": create_dynamodb_table,
    "AWS::S3::Bucket": create_s3_bucket,
    "AWS::S3::BucketPolicy": create_s3_bucket_policy,
    "AWS::SQS::Queue": create_sqs_queue,
    "AWS::SNS::Topic": create_sns_topic,
    "AWS::SNS::Subscription": create_sns_subscription,
    "AWS::Events::EventBus": create_event_bus,
    "AWS::Events::Rule": create_event_rule,
    "AWS::SecretsManager::Secret": create_secret,
    "AWS::StepFunctions::StateMachine": create_state_machine,
    "AWS::Lambda::Function": create_lambda_function,
    "AWS::Lambda::LayerVersion": create_layer_version,
    "AWS::ApiGateway::UsagePlan": create_usage_plan,
}

SKIPPED: dict[str, Skip] = {
    "AWS::IAM::Role": Skip("IAM is not enforced locally"),
    "AWS::IAM::Policy": Skip("IAM is not enforced locally"),
    "AWS::IAM::ManagedPolicy": Skip("IAM is not enforced locally"),
    "AWS::Lambda::Permission": Skip("resource policies are not enforced locally"),
    "AWS::Lambda::Version": Skip("functions always run their working-tree code"),
    "AWS::Lambda::Alias": Skip("functions always run their working-tree code"),
    "AWS::Lambda::EventInvokeConfig": Skip("asynchronous invocation settings are not emulated"),
    "AWS::Logs::LogGroup": Skip("functions log to this process's stderr"),
    "AWS::CloudWatch::Alarm": Skip("no metrics are collected locally"),
    "AWS::CloudWatch::Dashboard": Skip("no metrics are collected locally"),
    "AWS::SQS::QueuePolicy": Skip("resource policies are not enforced locally"),
    "AWS::SNS::TopicPolicy": Skip("resource policies are not enforced locally"),
    "AWS::Events::EventBusPolicy": Skip("resource policies are not enforced locally"),
    "AWS::ApiGateway::Deployment": Skip("the local API Gateway serves the RestApi body directly"),
    "AWS::ApiGateway::Stage": Skip("the local API Gateway serves every stage of the RestApi"),
    "AWS::ApiGateway::Account": Skip("account-level logging settings are not emulated"),
    "AWS::ApiGateway::UsagePlanKey": Skip("usage plan throttling is not enforced locally"),
    "AWS::ApiGateway::ApiKey": Skip("API keys are checked by the REQUEST authorizer, not by API Gateway"),
    "AWS::KMS::Key": Skip("encryption at rest is not emulated (topics and queues stay unencrypted)"),
    "AWS::KMS::Alias": Skip("encryption at rest is not emulated (topics and queues stay unencrypted)"),
    "AWS::XRay::Group": Skip("no tracing locally"),
    "AWS::XRay::SamplingRule": Skip("no tracing locally"),
    "AWS::ApiGateway::RestApi": Skip("served by the local API Gateway (apigw.py)", glue=True),
    "AWS::ApiGateway::Authorizer": Skip("run by the local API Gateway (apigw.py)", glue=True),
    "AWS::Lambda::EventSourceMapping": Skip(
        "polled by the local SQS poller (sqs_poller.py) or stream poller (stream_poller.py)", glue=True
    ),
    "AWS::Scheduler::Schedule": Skip("fired by the local scheduler (scheduler.py)", glue=True),
    "AWS::Scheduler::ScheduleGroup": Skip("the local scheduler ignores groups", glue=True),
}


def create_resource(
    context: ResourceContext, logical_id: str, resource: Mapping[str, Any]
) -> tuple[CreatedResource, Skip | None]:
    """Create one resource; returns what Ref/GetAtt give, plus the skip entry if it was not created."""
    resource_type = str(resource.get("Type"))
    raw = dict(resource.get("Properties") or {})
    creator = CREATORS.get(resource_type)
    if creator is not None:
        try:
            return creator(context, logical_id, raw), None
        except TemplateError:
            raise
        except Exception as exc:
            raise TemplateError(f"creating {logical_id} ({resource_type}) failed: {exc}") from exc
    skip = SKIPPED.get(resource_type)
    if skip is None:
        raise UnsupportedResourceType(resource_type, logical_id)
    return placeholder(context, logical_id, resource_type, raw), skip


def check_supported(resources: Mapping[str, Any]) -> None:
    """Fail before creating anything when a type is unknown."""
    for logical_id, resource in resources.items():
        resource_type = str(resource.get("Type"))
        if resource_type not in CREATORS and resource_type not in SKIPPED:
            raise UnsupportedResourceType(resource_type, logical_id)
