"""Template handling without moto: parameters, conditions, intrinsics, creation order, and the loud
refusal of resource types the local runtime does not know."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runway_bridge_dev.local.aws import LocalAws
from runway_bridge_dev.local.moto_adaptations import MotoVersionMismatch, check_moto_version
from runway_bridge_dev.local.resources import UnsupportedResourceType
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
from tests.dev.local.conftest import CORE_TEMPLATE

REPO_ROOT = Path(__file__).resolve().parents[3]
PSEUDO = pseudo_parameters(region="eu-west-1", account_id="111122223333", stack_name="demo")
TEMPLATE: dict[str, Any] = {
    "Parameters": {"Stage": {"Type": "String", "Default": "dev"}},
    "Mappings": {"Sizes": {"dev": {"Memory": 128}}},
    "Conditions": {
        "IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]},
        "IsDev": {"Fn::Not": [{"Condition": "IsProd"}]},
        "Either": {"Fn::Or": [{"Condition": "IsProd"}, {"Fn::And": [{"Condition": "IsDev"}, True]}]},
    },
    "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}, "Topic": {"Type": "AWS::SNS::Topic"}},
}
CREATED = {
    "Queue": CreatedResource(ref="https://queue/url", attributes={"Arn": "arn:aws:sqs:eu-west-1:1:q"}),
}


def resolver(stage: str = "dev") -> Resolver:
    return Resolver(TEMPLATE, {"Stage": stage}, PSEUDO, CREATED.get)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ({"Ref": "Queue"}, "https://queue/url"),
        ({"Fn::GetAtt": ["Queue", "Arn"]}, "arn:aws:sqs:eu-west-1:1:q"),
        ({"Fn::GetAtt": "Queue.Arn"}, "arn:aws:sqs:eu-west-1:1:q"),
        ({"Fn::Sub": "${AWS::StackName}-${Stage}-${Queue.Arn}"}, "demo-dev-arn:aws:sqs:eu-west-1:1:q"),
        (
            {"Fn::Sub": ["${Who} in ${AWS::Region}, ${!Literal}", {"Who": {"Ref": "Stage"}}]},
            "dev in eu-west-1, ${Literal}",
        ),
        ({"Fn::Join": ["/", ["a", {"Ref": "AWS::AccountId"}, "c"]]}, "a/111122223333/c"),
        ({"Fn::Select": [1, {"Fn::Split": [",", "x,y,z"]}]}, "y"),
        ({"Fn::If": ["IsProd", "big", "small"]}, "small"),
        ({"Fn::FindInMap": ["Sizes", {"Ref": "Stage"}, "Memory"]}, 128),
        ({"Fn::Sub": "${AWS::Partition}:${AWS::URLSuffix}"}, "aws:amazonaws.com"),
        ({"Keep": 1, "Drop": {"Ref": "AWS::NoValue"}}, {"Keep": 1}),
        ([1, {"Fn::If": ["IsProd", 2, {"Ref": "AWS::NoValue"}]}, 3], [1, 3]),
    ],
)
def test_intrinsics_resolve_like_cloudformation(expression: Any, expected: Any) -> None:
    assert resolver().resolve(expression) == expected


def test_conditions_follow_the_parameters() -> None:
    assert (resolver("dev").condition("IsProd"), resolver("dev").condition("Either")) == (False, True)
    assert (resolver("prod").condition("IsProd"), resolver("prod").condition("IsDev")) == (True, False)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ({"Ref": "Nope"}, "'Nope' is neither a parameter nor a resource"),
        ({"Ref": "Topic"}, "Topic does not exist"),
        ({"Fn::GetAtt": ["Queue", "QueueName"]}, "Queue.QueueName: attribute not available locally"),
        ({"Fn::ImportValue": "x"}, "Fn::ImportValue is not supported locally"),
    ],
)
def test_unresolvable_expressions_fail_naming_the_culprit(expression: Any, message: str) -> None:
    with pytest.raises(TemplateError, match=message.replace("(", r"\(").replace(".", r"\.")):
        resolver().resolve(expression)


def test_parameters_take_defaults_overrides_and_refuse_bad_values() -> None:
    declared = {
        "Parameters": {
            "Name": {"Type": "String", "Default": "x"},
            "Size": {"Type": "Number", "Default": 3, "AllowedValues": [3, 5]},
            "Zones": {"Type": "CommaDelimitedList", "Default": "a, b"},
            "Required": {"Type": "String"},
        }
    }
    assert parameter_values(declared, {"Required": "r", "Size": 5}) == {
        "Name": "x",
        "Size": "5",
        "Zones": ["a", "b"],
        "Required": "r",
    }
    with pytest.raises(TemplateError, match="Required has no Default"):
        parameter_values(declared)
    with pytest.raises(TemplateError, match="not one of"):
        parameter_values(declared, {"Required": "r", "Size": 4})
    with pytest.raises(TemplateError, match="not declared by the template: Typo"):
        parameter_values(declared, {"Required": "r", "Typo": "1"})


def test_resources_are_created_after_what_they_reference() -> None:
    resources = {
        "Rule": {"Properties": {"Targets": [{"Arn": {"Fn::GetAtt": ["Function", "Arn"]}}]}},
        "Function": {"Properties": {"Env": {"Fn::Sub": "${Table}/${Bucket.Arn}"}}},
        "Table": {},
        "Bucket": {"DependsOn": "Table"},
    }
    order = creation_order(resources)
    assert order.index("Table") < order.index("Bucket") < order.index("Function") < order.index("Rule")


def test_a_dependency_cycle_is_refused_naming_it() -> None:
    resources = {"A": {"Properties": {"X": {"Ref": "B"}}}, "B": {"DependsOn": ["A"]}}
    with pytest.raises(TemplateError, match="circular dependency: A -> B -> A"):
        creation_order(resources)


def test_an_unknown_resource_type_fails_loudly_naming_type_and_logical_id(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(
        "Resources:\n"
        "  Queue:\n    Type: AWS::SQS::Queue\n"
        "  Shiny:\n    Type: AWS::Shiny::Widget\n    Properties: {Size: 3}\n"
    )
    aws = LocalAws(template)
    with pytest.raises(UnsupportedResourceType) as raised:
        aws.start()
    assert "AWS::Shiny::Widget" in str(raised.value)
    assert "Shiny" in str(raised.value)
    assert (raised.value.resource_type, raised.value.logical_id) == ("AWS::Shiny::Widget", "Shiny")
    assert aws.endpoint_url == ""  # refused before moto or any resource existed


def test_the_sam_transform_keeps_local_code_and_inlines_definition_files() -> None:
    document = parse_template(CORE_TEMPLATE)
    loaded = load_template(
        CORE_TEMPLATE,
        parameter_values=parameter_values(document),
        region="us-east-1",
        account_id="123456789012",
        stack_name="demo",
    )
    resources = loaded.template["Resources"]
    assert resources["DoubleFunction"]["Type"] == "AWS::Lambda::Function"
    assert loaded.code_paths["DoubleFunction"] == CORE_TEMPLATE.parent / "handlers"
    machine = resources["Pipeline"]["Properties"]
    # SAM turns the inlined file into a DefinitionString; the substitutions stay for creation time.
    assert "arn:aws:states:::lambda:invoke" in json.dumps(machine["DefinitionString"])
    assert "${DoubleFunctionArn}" in json.dumps(machine["DefinitionString"])
    assert set(machine["DefinitionSubstitutions"]) == {"DoubleFunctionArn", "RecorderFunctionArn", "Label"}


def test_the_real_template_transforms_and_every_type_in_it_is_known() -> None:
    path = REPO_ROOT / "template.yaml"
    loaded = load_template(
        path,
        parameter_values=parameter_values(parse_template(path)),
        region="us-east-1",
        account_id="123456789012",
        stack_name="demo",
    )
    from runway_bridge_dev.local.resources import check_supported  # noqa: PLC0415

    check_supported(loaded.template["Resources"])  # raises UnsupportedResourceType otherwise
    assert "AWS::ApiGateway::RestApi" in {r["Type"] for r in loaded.template["Resources"].values()}


def test_another_moto_version_is_refused_loudly() -> None:
    check_moto_version()  # the installed one is the pinned one
    with pytest.raises(MotoVersionMismatch, match=r"moto 5\.3\.0 is installed .* patches moto 5\.2\.5"):
        check_moto_version("5.3.0")
