"""What a real AWS account needs from `template.yaml`, checked on the SAM-translated template (no AWS).

Each test is one operational property of the deployed stack: alarms that can actually notify, a second
stack in the same account, failures that are kept and alarmed, logs that expire, data that survives a
stack deletion, queues whose messages are not handled twice, and API Gateway's own answers in the
bridge's error shape.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from runway_bridge_dev.local.template import Resolver
from tests.dev.local.real_template import TranslatedStack, translated


@pytest.fixture(scope="module")
def stack() -> TranslatedStack:
    return translated()


@pytest.fixture(scope="module")
def params(stack: TranslatedStack) -> dict[str, Any]:
    return stack.parameters


@pytest.fixture(scope="module")
def resources(stack: TranslatedStack) -> dict[str, Any]:
    return dict(stack.template["Resources"])


def of_type(resources: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {logical_id: r for logical_id, r in resources.items() if r["Type"] == resource_type}


def props(resource: dict[str, Any]) -> dict[str, Any]:
    return dict(resource.get("Properties") or {})


def logical_target(expression: Any) -> str | None:
    """The logical id an expression names by Ref or GetAtt (None for anything else)."""
    if isinstance(expression, dict):
        if "Ref" in expression:
            return str(expression["Ref"])
        if "Fn::GetAtt" in expression:
            target = expression["Fn::GetAtt"]
            return str(target[0] if isinstance(target, list) else str(target).split(".")[0])
    return None


def number(expression: Any, params: dict[str, Any]) -> float:
    """A numeric property: a literal or a Ref to a parameter (its default)."""
    name = logical_target(expression)
    return float(params[name] if name is not None else expression)


def walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def alarms_on(resources: dict[str, Any], namespace: str, metric: str) -> list[dict[str, Any]]:
    return [
        props(alarm)
        for alarm in of_type(resources, "AWS::CloudWatch::Alarm").values()
        if props(alarm).get("Namespace") == namespace and props(alarm).get("MetricName") == metric
    ]


def test_alarm_topics_can_be_published_to_by_cloudwatch(resources: dict[str, Any]) -> None:
    """CloudWatch cannot use the AWS-managed SNS key: alarms on such a topic change state silently."""
    topics = {
        logical_target(action)
        for alarm in of_type(resources, "AWS::CloudWatch::Alarm").values()
        for action in props(alarm).get("AlarmActions", [])
    }
    assert topics
    assert None not in topics
    for topic_id in topics:
        topic = props(resources[str(topic_id)])
        key = topic.get("KmsMasterKeyId")
        if key is None:
            continue
        assert key != "alias/aws/sns", topic_id
        key_id = logical_target(key)
        assert key_id is not None, topic_id
        assert resources[key_id]["Type"] == "AWS::KMS::Key", topic_id
        statements = props(resources[key_id])["KeyPolicy"]["Statement"]
        assert any(
            statement["Effect"] == "Allow"
            and statement.get("Principal", {}).get("Service") == "cloudwatch.amazonaws.com"
            and {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(statement["Action"])
            for statement in statements
        ), f"{key_id} does not let CloudWatch use it"


def test_schedule_names_come_from_the_stack_name(resources: dict[str, Any]) -> None:
    """Schedule names are unique per account and region: a second stack must not collide."""
    schedules = of_type(resources, "AWS::Scheduler::Schedule")
    assert len(schedules) >= 2
    for logical_id, schedule in schedules.items():
        name = props(schedule).get("Name")
        assert name is not None, logical_id
        assert "AWS::StackName" in json.dumps(name), f"{logical_id} is named {name!r}"


def test_every_log_group_expires_and_every_function_logs_to_one(resources: dict[str, Any]) -> None:
    groups = of_type(resources, "AWS::Logs::LogGroup")
    for logical_id, group in groups.items():
        assert "RetentionInDays" in props(group), logical_id
    for logical_id, function in of_type(resources, "AWS::Lambda::Function").items():
        group_id = logical_target(props(function).get("LoggingConfig", {}).get("LogGroup"))
        assert group_id in groups, f"{logical_id} logs to a group the stack does not declare"
    for logical_id, machine in of_type(resources, "AWS::StepFunctions::StateMachine").items():
        destinations = props(machine)["LoggingConfiguration"]["Destinations"]
        for destination in destinations:
            arn = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]
            assert logical_target(arn) in groups, logical_id


def asynchronously_invoked(resources: dict[str, Any]) -> set[str]:
    functions = of_type(resources, "AWS::Lambda::Function")
    targets: set[str] = set()
    for schedule in of_type(resources, "AWS::Scheduler::Schedule").values():
        targets.add(str(logical_target(props(schedule)["Target"]["Arn"])))
    for rule in of_type(resources, "AWS::Events::Rule").values():
        for target in props(rule).get("Targets", []):
            targets.add(str(logical_target(target["Arn"])))
    return targets & set(functions)


def test_every_asynchronously_invoked_function_keeps_and_alarms_its_failures(
    resources: dict[str, Any],
) -> None:
    targets = asynchronously_invoked(resources)
    assert {"SubmitEventFunction", "PublishEventsFunction"} <= targets
    configs = {
        logical_target(props(config)["FunctionName"]): props(config)
        for config in of_type(resources, "AWS::Lambda::EventInvokeConfig").values()
    }
    alarmed_queues = {
        logical_target(dimension["Value"])
        for alarm in alarms_on(resources, "AWS/SQS", "ApproximateNumberOfMessagesVisible")
        for dimension in alarm["Dimensions"]
    }
    for function in targets:
        assert function in configs, f"{function} has no EventInvokeConfig"
        destination = logical_target(configs[function]["DestinationConfig"]["OnFailure"]["Destination"])
        assert destination is not None, function
        assert resources[destination]["Type"] == "AWS::SQS::Queue", function
        assert destination in alarmed_queues, f"{function}'s failures ({destination}) are not alarmed"


def failure_queues(resources: dict[str, Any]) -> set[str]:
    """Queues that keep what failed: dead-letter targets and on-failure destinations."""
    queues = set(of_type(resources, "AWS::SQS::Queue"))
    found: set[str] = set()
    for node in walk(resources):
        if isinstance(node, dict):
            for key in ("deadLetterTargetArn", "Destination"):
                if key in node:
                    found.add(str(logical_target(node[key])))
            if "DeadLetterConfig" in node and isinstance(node["DeadLetterConfig"], dict):
                found.add(str(logical_target(node["DeadLetterConfig"].get("Arn"))))
    return found & queues


def test_data_survives_stack_deletion_and_replacement(resources: dict[str, Any]) -> None:
    kept = set(failure_queues(resources))
    assert {"CopyDeadLetterQueue", "WebhookDeadLetterQueue", "SubmitEventFailureQueue"} <= kept
    for resource_type in ("AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::SecretsManager::Secret"):
        kept |= set(of_type(resources, resource_type))
    for logical_id in sorted(kept):
        resource = resources[logical_id]
        assert resource.get("DeletionPolicy") == "Retain", logical_id
        assert resource.get("UpdateReplacePolicy") == "Retain", logical_id


def sqs_mappings(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        logical_id: props(mapping)
        for logical_id, mapping in of_type(resources, "AWS::Lambda::EventSourceMapping").items()
        if resources[str(logical_target(props(mapping)["EventSourceArn"]))]["Type"] == "AWS::SQS::Queue"
    }


def test_queue_visibility_outlasts_six_of_its_consumers_timeouts(
    resources: dict[str, Any], params: dict[str, Any]
) -> None:
    mappings = sqs_mappings(resources)
    assert len(mappings) >= 2
    for logical_id, mapping in mappings.items():
        queue = props(resources[str(logical_target(mapping["EventSourceArn"]))])
        function = props(resources[str(logical_target(mapping["FunctionName"]))])
        visibility = number(queue.get("VisibilityTimeout", 30), params)
        timeout = number(function.get("Timeout", 3), params)
        assert visibility >= 6 * timeout, f"{logical_id}: visibility {visibility} s, timeout {timeout} s"


def test_every_sqs_consumer_has_a_maximum_concurrency(resources: dict[str, Any]) -> None:
    for logical_id, mapping in sqs_mappings(resources).items():
        assert mapping.get("ScalingConfig", {}).get("MaximumConcurrency", 0) >= 2, logical_id


def gateway_responses(resources: dict[str, Any]) -> dict[str, Any]:
    [api] = of_type(resources, "AWS::ApiGateway::RestApi").values()
    return dict(props(api)["Body"].get("x-amazon-apigateway-gateway-responses", {}))


@pytest.mark.parametrize(
    ("response_type", "code"),
    [
        ("UNAUTHORIZED", "unauthorized"),
        ("ACCESS_DENIED", "forbidden"),
        ("THROTTLED", "rate_limited"),
        ("DEFAULT_4XX", None),
        ("DEFAULT_5XX", None),
    ],
)
def test_api_gateways_own_answers_have_the_bridges_error_shape(
    resources: dict[str, Any], response_type: str, code: str | None
) -> None:
    response = gateway_responses(resources).get(response_type)
    assert response is not None, f"no {response_type} gateway response"
    template = response["responseTemplates"]["application/json"]
    rendered = json.loads(template.replace("$context.error.messageString", '"Unauthorized"'))
    assert set(rendered) == {"error", "code"}
    if code is not None:
        assert rendered["code"] == code


def test_no_stage_is_deployed_without_the_apis_throttling(resources: dict[str, Any]) -> None:
    """A deployment with a StageName creates that stage (SAM's `Stage`) without MethodSettings."""
    for logical_id, deployment in of_type(resources, "AWS::ApiGateway::Deployment").items():
        assert "StageName" not in props(deployment), (
            f"{logical_id} deploys stage {props(deployment)['StageName']}"
        )
    stages = of_type(resources, "AWS::ApiGateway::Stage")
    assert stages
    for logical_id, stage in stages.items():
        assert props(stage)["StageName"] != "Stage", logical_id
        assert props(stage).get("MethodSettings"), f"{logical_id} has no throttling"


def test_the_api_function_keeps_responses_out_of_traces(resources: dict[str, Any]) -> None:
    """`GET /v1/webhooks/secret` answers with a signing secret; a trace must not record it."""
    variables = props(resources["ApiFunction"])["Environment"]["Variables"]
    assert variables.get("POWERTOOLS_TRACER_CAPTURE_RESPONSE") == "false"


def test_output_copies_expire_by_default(params: dict[str, Any]) -> None:
    assert int(params["OutputExpirationDays"]) > 0


@pytest.mark.parametrize(
    ("namespace", "metric"),
    [
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
        ("AWS/Lambda", "IteratorAge"),
        ("AWS/ApiGateway", "5XXError"),
        ("AWS/SQS", "ApproximateAgeOfOldestMessage"),
        ("AWS/States", "ExecutionsTimedOut"),
        ("AWS/States", "ExecutionsFailed"),
    ],
)
def test_operational_alarms_exist(resources: dict[str, Any], namespace: str, metric: str) -> None:
    alarms = alarms_on(resources, namespace, metric)
    assert alarms, f"no alarm on {namespace} {metric}"
    for alarm in alarms:
        assert alarm.get("AlarmActions"), alarm


def test_every_function_has_error_and_throttle_alarms(resources: dict[str, Any]) -> None:
    for metric in ("Errors", "Throttles"):
        alarmed = {
            logical_target(dimension["Value"])
            for alarm in alarms_on(resources, "AWS/Lambda", metric)
            for dimension in alarm.get("Dimensions", [])
            if dimension["Name"] == "FunctionName"
        }
        assert alarmed >= set(of_type(resources, "AWS::Lambda::Function")), metric


def test_a_dashboard_shows_the_bridges_own_metrics(resources: dict[str, Any]) -> None:
    [dashboard] = of_type(resources, "AWS::CloudWatch::Dashboard").values()
    source = props(dashboard)["DashboardBody"]["Fn::Sub"]
    body = json.loads(re.sub(r"\$\{[^}]+\}", "x", source))  # valid JSON once substituted
    shown = {
        metric[1]
        for widget in body["widgets"]
        for metric in widget["properties"].get("metrics", [])
        if metric[0] in ("RunwayBridge", ".")
    }
    emitted = {
        "JobsSucceeded",
        "JobsFailed",
        "RunwayGET",
        "RunwayRateLimited",
        "OutcomePublishLag",
        "CopiedBytes",
        "CopyFailed",
        "WebhookDelivered",
        "WebhookRetrying",
        "WebhookExhausted",
    }
    assert emitted <= shown
    assert "Runway accepted the create" in source  # jobs submitted, from the submit log line
    queues = {"CopyDeadLetterQueue", "WebhookDeadLetterQueue", "SubmitEventDeadLetterQueue"}
    assert all(f"${{{queue}.QueueName}}" in source for queue in queues)


def test_functions_follow_the_sampled_traces_by_default_and_can_trace_everything(
    params: dict[str, Any], resources: dict[str, Any]
) -> None:
    """X-Ray bills every recorded trace: by default the functions record only what API Gateway and
    the poller's runs sampled; `FunctionTracing=Active` records every invocation."""
    assert params["FunctionTracing"] == "PassThrough"
    for logical_id, function in of_type(resources, "AWS::Lambda::Function").items():
        assert props(function)["TracingConfig"]["Mode"] == {"Ref": "FunctionTracing"}, logical_id
    assert all(
        props(stage).get("TracingEnabled") for stage in of_type(resources, "AWS::ApiGateway::Stage").values()
    )
    [machine] = of_type(resources, "AWS::StepFunctions::StateMachine").values()
    assert props(machine)["TracingConfiguration"]["Enabled"] is True


# --- s3:// inputs: read access to exactly the InputBuckets' objects ---------------------------------

SUBMITTING_FUNCTIONS = ("ApiFunction", "SubmitEventFunction", "PollDueFunction")


def _stack_with_input_buckets(buckets: str, region: str = "eu-west-1") -> tuple[dict[str, Any], Resolver]:
    stack = translated({"InputBuckets": buckets}, region)
    return dict(stack.template["Resources"]), stack.resolver


def _s3_grants(resources: dict[str, Any], resolver: Resolver) -> dict[str, set[str]]:
    """Role logical id -> the s3 resources its policies (inline on the role, or attached IAM
    policies whose condition holds) grant s3:GetObject on."""
    grants: dict[str, set[str]] = {}

    def add(roles: list[str], document: dict[str, Any]) -> None:
        for statement in document.get("Statement", []):
            actions = statement.get("Action")
            actions = actions if isinstance(actions, list) else [actions]
            if not any(str(a) in ("s3:GetObject", "s3:*", "s3:Get*") for a in actions):
                continue
            targets = resolver.resolve(statement.get("Resource"))
            targets = targets if isinstance(targets, list) else [targets]
            for role in roles:
                grants.setdefault(role, set()).update(str(t) for t in targets)

    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::IAM::Role":
            for policy in props(resource).get("Policies", []):
                # A conditional policy (Fn::If ... AWS::NoValue) resolves to nothing when it is off.
                resolved = resolver.resolve(policy)
                if isinstance(resolved, dict) and "PolicyDocument" in resolved:
                    add([logical_id], resolved["PolicyDocument"])
        if resource["Type"] == "AWS::IAM::Policy":
            if "Condition" in resource and not resolver.condition(resource["Condition"]):
                continue
            roles = [str(logical_target(role)) for role in props(resource)["Roles"]]
            add(roles, props(resource)["PolicyDocument"])
    return grants


@pytest.mark.parametrize(
    ("region", "partition"), [("eu-west-1", "aws"), ("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")]
)
def test_the_submitting_functions_read_exactly_the_input_buckets_objects(region: str, partition: str) -> None:
    resources, resolver = _stack_with_input_buckets("in-frames,in-clips", region)
    grants = _s3_grants(resources, resolver)
    expected = {f"arn:{partition}:s3:::in-frames/*", f"arn:{partition}:s3:::in-clips/*"}
    for function in SUBMITTING_FUNCTIONS:
        input_grants = {
            g for g in grants.get(f"{function}Role", set()) if "in-frames" in g or "in-clips" in g
        }
        assert input_grants == expected, function
    # No other role reads them, and no grant is wider than an input bucket's objects.
    others = {role: g for role, g in grants.items() if role not in {f"{f}Role" for f in SUBMITTING_FUNCTIONS}}
    assert not any("in-frames" in target or "in-clips" in target for g in others.values() for target in g)
    assert not any(target.endswith(":::*") or target == "*" for g in grants.values() for target in g)
    environment = resolver.resolve(resources["ApiFunction"]["Properties"]["Environment"])
    assert environment["Variables"]["BRIDGE_INPUT_BUCKETS"] == "in-frames,in-clips"
    for function in SUBMITTING_FUNCTIONS:
        variables = resolver.resolve(resources[function]["Properties"]["Environment"])["Variables"]
        assert variables["BRIDGE_INPUT_BUCKETS"] == "in-frames,in-clips", function


def test_without_input_buckets_no_role_may_read_any_input_object() -> None:
    resources, resolver = _stack_with_input_buckets("")
    assert not resolver.condition("HasInputBuckets")
    grants = _s3_grants(resources, resolver)
    assert not any(":s3:::/*" in target for g in grants.values() for target in g)
    assert "InputObjectsReadPolicy" in resources  # declared, but its condition keeps it out
    variables = resolver.resolve(resources["ApiFunction"]["Properties"]["Environment"])["Variables"]
    assert variables["BRIDGE_INPUT_BUCKETS"] == ""
