"""The IAM scoping of tenants' output buckets (moto does not enforce IAM, so the SAM-translated
template is checked): with `OutputBuckets` given, the copier may make the copy's calls on exactly
those buckets and their objects, the API and the relay may read (presign) exactly their objects,
nobody may delete there; with it empty, no role gets anything outside the bridge's own bucket."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runway_bridge_dev.local.template import (
    Resolver,
    load_template,
    parameter_values,
    parse_template,
    pseudo_parameters,
)

REAL_TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"
COPY_ACTIONS = {
    "s3:PutObject",
    "s3:GetObject",
    "s3:PutObjectTagging",
    "s3:GetObjectTagging",
    "s3:AbortMultipartUpload",
}
LIST_ACTIONS = {"s3:ListBucket", "s3:ListBucketMultipartUploads"}


def resolved(output_buckets: str) -> dict[str, Any]:
    """The translated template with every intrinsic of parameters and conditions evaluated."""
    params = parameter_values(parse_template(REAL_TEMPLATE), {"OutputBuckets": output_buckets})
    pseudo = pseudo_parameters(region="eu-west-1", account_id="111122223333", stack_name="bridge-a")
    loaded = load_template(
        REAL_TEMPLATE,
        parameter_values=params,
        region="eu-west-1",
        account_id="111122223333",
        stack_name="bridge-a",
    )
    template = loaded.template
    resolver = Resolver(template, params, pseudo, lambda _logical_id: None)

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

    return {"Resources": keep_references(template["Resources"]), "Outputs": template.get("Outputs", {})}


def statements(template: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Role logical id -> every statement of its inline policies."""
    found: dict[str, list[dict[str, Any]]] = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for policy in resource["Properties"].get("Policies") or []:
            if not isinstance(policy, dict):
                continue
            found.setdefault(logical_id, []).extend(policy["PolicyDocument"]["Statement"])
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
            if any(resource.startswith("arn:aws:s3:::") for resource in resources):
                grants.setdefault(role, []).append((as_set(statement["Action"]), resources))
    return grants


@pytest.fixture(scope="module")
def with_buckets() -> dict[str, Any]:
    return resolved("t-out,t-two")


def test_the_copier_gets_the_copys_calls_on_exactly_the_given_buckets(with_buckets: dict[str, Any]) -> None:
    grants = tenant_grants(with_buckets)
    assert sorted(grants["CopyOutputsFunctionRole"], key=lambda grant: sorted(grant[0])) == sorted(
        [
            (COPY_ACTIONS, {"arn:aws:s3:::t-out/*", "arn:aws:s3:::t-two/*"}),
            (LIST_ACTIONS, {"arn:aws:s3:::t-out", "arn:aws:s3:::t-two"}),
        ],
        key=lambda grant: sorted(grant[0]),
    )
    environment = with_buckets["Resources"]["CopyOutputsFunction"]["Properties"]["Environment"]["Variables"]
    assert environment["BRIDGE_OUTPUT_BUCKETS"] == "t-out,t-two"


def test_the_api_and_the_relay_may_only_read_there_and_nobody_may_delete(
    with_buckets: dict[str, Any],
) -> None:
    grants = tenant_grants(with_buckets)
    objects = {"arn:aws:s3:::t-out/*", "arn:aws:s3:::t-two/*"}
    assert grants["ApiFunctionRole"] == [({"s3:GetObject"}, objects)]
    assert grants["PublishEventsFunctionRole"] == [({"s3:GetObject"}, objects)]
    assert set(grants) == {"CopyOutputsFunctionRole", "ApiFunctionRole", "PublishEventsFunctionRole"}
    assert not any("s3:DeleteObject" in actions for found in grants.values() for actions, _ in found)


def test_without_output_buckets_no_role_reaches_any_other_bucket() -> None:
    template = resolved("")
    assert tenant_grants(template) == {}
    environment = template["Resources"]["CopyOutputsFunction"]["Properties"]["Environment"]["Variables"]
    assert environment["BRIDGE_OUTPUT_BUCKETS"] == ""


def test_the_roles_a_tenant_bucket_policy_grants_are_stack_outputs(with_buckets: dict[str, Any]) -> None:
    outputs = with_buckets["Outputs"]
    for output, role in [
        ("CopyOutputsRoleArn", "CopyOutputsFunctionRole"),
        ("ApiRoleArn", "ApiFunctionRole"),
        ("PublishEventsRoleArn", "PublishEventsFunctionRole"),
    ]:
        assert outputs[output]["Value"] == {"Fn::GetAtt": [role, "Arn"]}
    assert outputs["CopyOutputsFunctionName"]["Value"] == {"Ref": "CopyOutputsFunction"}
