"""The IAM scoping of tenants' output buckets (moto does not enforce IAM, so the SAM-translated
template is checked): with `OutputBuckets` given, the copier may make the copy's calls on exactly
those buckets and their objects, the API and the relay may read (presign) exactly their objects,
nobody may delete there, in each partition (aws, aws-cn, aws-us-gov); with it empty, no role gets
anything outside the bridge's own bucket."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.dev.local.real_template import translated

COPY_ACTIONS = {
    "s3:PutObject",
    "s3:GetObject",
    "s3:PutObjectTagging",
    "s3:GetObjectTagging",
    "s3:AbortMultipartUpload",
}
LIST_ACTIONS = {"s3:ListBucket", "s3:ListBucketMultipartUploads"}
BUCKET_ARN = re.compile(r"arn:[^:]+:s3:::")  # in any partition


def resolved(output_buckets: str, region: str = "eu-west-1") -> dict[str, Any]:
    """The translated template as CloudFormation creates it: resources whose condition does not hold
    left out, every intrinsic of parameters and conditions evaluated."""
    stack = translated({"OutputBuckets": output_buckets}, region)
    template, resolver = stack.template, stack.resolver

    def keep_references(node: Any) -> Any:
        # Refs to resources stay as they are (nothing is created here); parameters and conditions resolve.
        if isinstance(node, dict):
            if set(node) <= {"Ref", "Fn::GetAtt", "Fn::Sub"} and (
                "Fn::GetAtt" in node or "Fn::Sub" in node or str(node.get("Ref")) in template["Resources"]
            ):
                return node
            if len(node) == 1 and next(iter(node)).startswith("Fn::"):
                return resolver.resolve(node)
            return {key: keep_references(value) for key, value in node.items()}
        if isinstance(node, list):
            return [keep_references(item) for item in node]
        return node

    created = {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if "Condition" not in resource or resolver.condition(resource["Condition"])
    }
    return {"Resources": keep_references(created), "Outputs": template.get("Outputs", {})}


def statements(template: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Role logical id -> every statement of its inline policies and of the policies attached to it."""
    found: dict[str, list[dict[str, Any]]] = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::IAM::Role":
            for policy in resource["Properties"].get("Policies") or []:
                if not isinstance(policy, dict):
                    continue
                found.setdefault(logical_id, []).extend(policy["PolicyDocument"]["Statement"])
        if resource["Type"] == "AWS::IAM::Policy":
            attached = resource["Properties"]["PolicyDocument"]["Statement"]
            for role in resource["Properties"]["Roles"]:
                found.setdefault(role["Ref"], []).extend(attached)
    return found


def as_set(value: Any) -> set[str]:
    """Actions or resources as a set (resources that are still intrinsics are left out)."""
    items = [value] if isinstance(value, str | dict) else list(value)
    return {item for item in items if isinstance(item, str)}


def tenant_grants(template: dict[str, Any]) -> dict[str, list[tuple[set[str], set[str]]]]:
    """Role -> (actions, resources) of each statement naming a bucket by a literal ARN (the
    bridge's own bucket is named through intrinsics, so these are the tenants' buckets)."""
    grants: dict[str, list[tuple[set[str], set[str]]]] = {}
    for role, found in statements(template).items():
        for statement in found:
            resources = as_set(statement.get("Resource", []))
            if any(BUCKET_ARN.match(resource) for resource in resources):
                grants.setdefault(role, []).append((as_set(statement["Action"]), resources))
    return grants


@pytest.fixture(
    scope="module",
    params=[("eu-west-1", "aws"), ("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")],
    ids=lambda region_partition: region_partition[1],
)
def region_partition(request: pytest.FixtureRequest) -> tuple[str, str]:
    region, partition = request.param
    return region, partition


@pytest.fixture(scope="module")
def partition(region_partition: tuple[str, str]) -> str:
    return region_partition[1]


@pytest.fixture(scope="module")
def with_buckets(region_partition: tuple[str, str]) -> dict[str, Any]:
    return resolved("t-out,t-two", region_partition[0])


def test_the_copier_gets_the_copys_calls_on_exactly_the_given_buckets(
    with_buckets: dict[str, Any], partition: str
) -> None:
    grants = tenant_grants(with_buckets)
    assert sorted(grants["CopyOutputsFunctionRole"], key=lambda grant: sorted(grant[0])) == sorted(
        [
            (COPY_ACTIONS, {f"arn:{partition}:s3:::t-out/*", f"arn:{partition}:s3:::t-two/*"}),
            (LIST_ACTIONS, {f"arn:{partition}:s3:::t-out", f"arn:{partition}:s3:::t-two"}),
        ],
        key=lambda grant: sorted(grant[0]),
    )
    environment = with_buckets["Resources"]["CopyOutputsFunction"]["Properties"]["Environment"]["Variables"]
    assert environment["BRIDGE_OUTPUT_BUCKETS"] == "t-out,t-two"


def test_the_api_and_the_relay_may_only_read_there_and_nobody_may_delete(
    with_buckets: dict[str, Any], partition: str
) -> None:
    grants = tenant_grants(with_buckets)
    objects = {f"arn:{partition}:s3:::t-out/*", f"arn:{partition}:s3:::t-two/*"}
    assert grants["ApiFunctionRole"] == [({"s3:GetObject"}, objects)]
    assert grants["PublishEventsFunctionRole"] == [({"s3:GetObject"}, objects)]
    assert set(grants) == {"CopyOutputsFunctionRole", "ApiFunctionRole", "PublishEventsFunctionRole"}
    assert not any("s3:DeleteObject" in actions for found in grants.values() for actions, _ in found)


def test_without_output_buckets_no_role_reaches_any_other_bucket() -> None:
    template = resolved("")
    assert tenant_grants(template) == {}
    environment = template["Resources"]["CopyOutputsFunction"]["Properties"]["Environment"]["Variables"]
    assert environment["BRIDGE_OUTPUT_BUCKETS"] == ""


def test_the_roles_a_tenant_bucket_policy_grants_are_stack_outputs() -> None:
    outputs = resolved("t-out,t-two")["Outputs"]
    for output, role in [
        ("CopyOutputsRoleArn", "CopyOutputsFunctionRole"),
        ("ApiRoleArn", "ApiFunctionRole"),
        ("PublishEventsRoleArn", "PublishEventsFunctionRole"),
    ]:
        assert outputs[output]["Value"] == {"Fn::GetAtt": [role, "Arn"]}
    assert outputs["CopyOutputsFunctionName"]["Value"] == {"Ref": "CopyOutputsFunction"}
