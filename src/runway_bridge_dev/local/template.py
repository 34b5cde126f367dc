"""The SAM template, as CloudFormation would see it: parsed (short-form tags), transformed by
aws-sam-translator offline, then resolved (Parameters, Conditions, intrinsics, pseudo parameters)
against the physical ids and attributes of the resources the local runtime created.

Local code paths (`CodeUri`, `ContentUri`, `DefinitionUri`) are what `sam build` / `sam package` would
upload; here they are recorded before the transform and replaced by placeholders the translator
accepts, so functions run from the working tree.
"""

from __future__ import annotations

import base64
import copy
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import yaml
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.utils.py27hash_fix import to_py27_compatible_template, undo_mark_unicode_str_in_template
from samtranslator.yaml_helper import yaml_parse

PSEUDO_PREFIX = "AWS::"
NO_VALUE = "AWS::NoValue"
_LOCAL_CODE_BUCKET = "runway-bridge-local-code"
# Offline the translator has no feature-toggle config and warns on every OpenAPI 3 API it transforms
# ("Feature 'normalized_open_api_version' not available"); the defaults it falls back to are SAM's.
logging.getLogger("samtranslator.feature_toggle").setLevel(logging.ERROR)


class TemplateError(ValueError):
    """The template cannot be loaded, transformed or resolved; the message names the culprit."""


@dataclass
class CreatedResource:
    """What `Ref` and `Fn::GetAtt` of one logical id return once it exists."""

    ref: str
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class LoadedTemplate:
    """A transformed template plus the local code locations the transform had to hide."""

    template: dict[str, Any]
    directory: Path
    # logical id of the (transformed) function / layer / state machine -> local path
    code_paths: dict[str, Path] = field(default_factory=dict)


def parse_template(path: Path) -> dict[str, Any]:
    """YAML or JSON with CloudFormation short-form tags (`!Ref`, `!Sub`, `!GetAtt` ...)."""
    try:
        document = yaml_parse(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise TemplateError(f"cannot read template {path}: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("Resources"), dict):
        raise TemplateError(f"template {path} has no Resources mapping")
    return document


def _is_local_path(value: Any) -> bool:
    return isinstance(value, str) and not value.startswith("s3://")


def _hide_local_code(document: dict[str, Any], directory: Path) -> dict[str, Path]:
    """Record local code paths and give the translator S3 placeholders instead."""
    code_paths: dict[str, Path] = {}
    function_globals = (document.get("Globals") or {}).get("Function") or {}
    global_code_uri = function_globals.pop("CodeUri", None)
    for logical_id, resource in document["Resources"].items():
        resource_type = resource.get("Type")
        properties = resource.setdefault("Properties", {}) if isinstance(resource, dict) else {}
        if resource_type == "AWS::Serverless::Function":
            code_uri = properties.get("CodeUri", global_code_uri)
            if _is_local_path(code_uri) or code_uri is None:
                if "InlineCode" in properties or "ImageUri" in properties:
                    continue
                code_paths[logical_id] = (directory / (code_uri or ".")).resolve()
                properties["CodeUri"] = f"s3://{_LOCAL_CODE_BUCKET}/{logical_id}.zip"
            elif global_code_uri is not None and "CodeUri" not in properties:
                properties["CodeUri"] = global_code_uri
        elif resource_type == "AWS::Serverless::LayerVersion":
            content_uri = properties.get("ContentUri")
            if _is_local_path(content_uri):
                code_paths[logical_id] = (directory / str(content_uri)).resolve()
                properties["ContentUri"] = f"s3://{_LOCAL_CODE_BUCKET}/{logical_id}.zip"
        elif resource_type == "AWS::Serverless::StateMachine":
            definition_uri = properties.get("DefinitionUri")
            if _is_local_path(definition_uri):
                definition_path = (directory / str(definition_uri)).resolve()
                try:
                    properties["Definition"] = yaml_parse(definition_path.read_text())
                except OSError as exc:
                    raise TemplateError(f"{logical_id}: cannot read DefinitionUri {definition_path}") from exc
                del properties["DefinitionUri"]
        elif resource_type in ("AWS::Lambda::Function",):
            code = properties.get("Code")
            if _is_local_path(code):
                code_paths[logical_id] = (directory / str(code)).resolve()
                properties["Code"] = {"S3Bucket": _LOCAL_CODE_BUCKET, "S3Key": f"{logical_id}.zip"}
    return code_paths


def _pass_through_managed_policies() -> dict[str, str]:
    # No IAM here: policy names stay names (IAM is not emulated, roles are skipped).
    return {}


def load_template(
    path: Path, *, parameter_values: Mapping[str, Any], region: str, account_id: str, stack_name: str
) -> LoadedTemplate:
    """Parse and transform `path`; `parameter_values` are the resolved template parameters."""
    document = parse_template(path)
    directory = path.parent.resolve()
    code_paths = _hide_local_code(document, directory)
    values = dict(parameter_values)
    values.update(pseudo_parameters(region=region, account_id=account_id, stack_name=stack_name))
    if "Transform" in document:
        translator = Translator(None, Parser(), boto_session=boto3.Session(region_name=region))
        sam_document = copy.deepcopy(document)
        to_py27_compatible_template(sam_document, values)
        try:
            transformed = translator.translate(
                sam_document,
                parameter_values=values,
                get_managed_policy_map=_pass_through_managed_policies,
            )
        except Exception as exc:  # the translator's own errors name the resource and the problem
            raise TemplateError(f"SAM transform of {path} failed: {exc}") from exc
        transformed = undo_mark_unicode_str_in_template(transformed)
    else:
        transformed = document
    # SAM keeps a function's logical id; a layer version gets a hashed one (`BridgeLayer1a2b3c4d5e`).
    for logical_id, resource in transformed.get("Resources", {}).items():
        if resource.get("Type") == "AWS::Lambda::LayerVersion" and logical_id not in code_paths:
            for source_id, local in list(code_paths.items()):
                if logical_id.startswith(source_id) and _type_of(document, source_id).endswith(
                    "LayerVersion"
                ):
                    code_paths[logical_id] = local
    return LoadedTemplate(template=transformed, directory=directory, code_paths=code_paths)


def _type_of(document: Mapping[str, Any], logical_id: str) -> str:
    return str((document.get("Resources", {}).get(logical_id) or {}).get("Type", ""))


def pseudo_parameters(*, region: str, account_id: str, stack_name: str) -> dict[str, str]:
    partition = (
        "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov") else "aws"
    )
    return {
        "AWS::Region": region,
        "AWS::AccountId": account_id,
        "AWS::Partition": partition,
        "AWS::StackName": stack_name,
        "AWS::StackId": f"arn:{partition}:cloudformation:{region}:{account_id}:stack/{stack_name}/local",
        "AWS::URLSuffix": "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com",
        "AWS::NotificationARNs": "",
    }


def parameter_values(
    template: Mapping[str, Any], overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Defaults with overrides on top; a parameter with neither, or an unknown override, is an error."""
    declared = template.get("Parameters") or {}
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise TemplateError(f"parameters not declared by the template: {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        if name in overrides:
            value = overrides[name]
        elif "Default" in spec:
            value = spec["Default"]
        else:
            raise TemplateError(f"parameter {name} has no Default and no value was given")
        allowed = spec.get("AllowedValues")
        if allowed is not None and str(value) not in [str(a) for a in allowed]:
            raise TemplateError(f"parameter {name}={value!r} is not one of {allowed}")
        kind = str(spec.get("Type", "String"))
        if kind == "CommaDelimitedList" or kind.startswith("List<"):
            values[name] = value if isinstance(value, list) else [v.strip() for v in str(value).split(",")]
        else:
            values[name] = str(value)  # a Ref to a Number parameter is a string in CloudFormation too
    return values


_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class _Removed:
    """`AWS::NoValue`: the enclosing key or list item disappears."""


REMOVED = _Removed()


class Resolver:
    """Evaluates intrinsic functions against parameters, conditions and created resources."""

    def __init__(
        self,
        template: Mapping[str, Any],
        parameters: Mapping[str, Any],
        pseudo: Mapping[str, str],
        lookup: Callable[[str], CreatedResource | None],
    ) -> None:
        self._template = template
        self._values = {**parameters, **pseudo}
        self._lookup = lookup
        self._conditions: dict[str, bool] = {}

    # --- conditions -----------------------------------------------------------------------------

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            definitions = self._template.get("Conditions") or {}
            if name not in definitions:
                raise TemplateError(f"condition {name!r} is not defined")
            self._conditions[name] = bool(self._condition_value(definitions[name]))
        return self._conditions[name]

    def _condition_value(self, expression: Any) -> Any:
        if isinstance(expression, dict) and set(expression) == {"Condition"}:
            return self.condition(str(expression["Condition"]))
        return self.resolve(expression)

    # --- intrinsics -----------------------------------------------------------------------------

    def resolve(self, expression: Any) -> Any:
        value = self._resolve(expression)
        return None if value is REMOVED else value

    def _resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [item for item in (self._resolve(i) for i in node) if item is not REMOVED]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, argument),) = node.items()
            if key == "Ref":
                return self._ref(str(argument))
            if key == "Fn::GetAtt":
                return self._get_att(argument)
            if key == "Fn::Sub":
                return self._sub(argument)
            if key == "Fn::Join":
                delimiter, items = argument
                return str(self._resolve(delimiter)).join(_text(v) for v in self._resolve(items))
            if key == "Fn::Select":
                index, items = self._resolve(argument)
                return items[int(index)]
            if key == "Fn::Split":
                delimiter, text = self._resolve(argument)
                return str(text).split(str(delimiter))
            if key == "Fn::If":
                name, when_true, when_false = argument
                return self._resolve(when_true if self.condition(str(name)) else when_false)
            if key == "Fn::Equals":
                left, right = (self._condition_value(a) for a in argument)
                return _text(left) == _text(right)
            if key == "Fn::Not":
                return not self._condition_value(argument[0])
            if key == "Fn::And":
                return all(self._condition_value(a) for a in argument)
            if key == "Fn::Or":
                return any(self._condition_value(a) for a in argument)
            if key == "Condition" and isinstance(argument, str):
                return self.condition(argument)
            if key == "Fn::Base64":
                return base64.b64encode(str(self._resolve(argument)).encode()).decode()
            if key == "Fn::GetAZs":
                region = str(self._resolve(argument) or self._values["AWS::Region"])
                return [f"{region}{zone}" for zone in "abc"]
            if key == "Fn::FindInMap":
                map_name, top, second = (self._resolve(a) for a in argument[:3])
                try:
                    return self._template["Mappings"][map_name][top][second]
                except KeyError as exc:
                    raise TemplateError(f"Fn::FindInMap {map_name}/{top}/{second}: no such entry") from exc
            if key == "Fn::ToJsonString":
                return json.dumps(self._resolve(argument), separators=(",", ":"))
            if key == "Fn::Length":
                return len(self._resolve(argument))
            if key.startswith("Fn::"):
                raise TemplateError(f"intrinsic function {key} is not supported locally")
        resolved = {k: self._resolve(v) for k, v in node.items()}
        return {k: v for k, v in resolved.items() if v is not REMOVED}

    def _ref(self, name: str) -> Any:
        if name == NO_VALUE:
            return REMOVED
        if name in self._values:
            return self._values[name]
        if name.startswith(PSEUDO_PREFIX):
            raise TemplateError(f"pseudo parameter {name} is not supported locally")
        created = self._created(name, "Ref")
        return created.ref

    def _get_att(self, argument: Any) -> Any:
        if isinstance(argument, str):
            logical_id, _, attribute = argument.partition(".")
        else:
            logical_id, attribute = str(argument[0]), str(self._resolve(argument[1]))
        created = self._created(logical_id, f"Fn::GetAtt {logical_id}.{attribute}")
        if attribute not in created.attributes:
            known = ", ".join(sorted(created.attributes)) or "none"
            raise TemplateError(
                f"Fn::GetAtt {logical_id}.{attribute}: attribute not available locally (has: {known})"
            )
        return created.attributes[attribute]

    def _created(self, logical_id: str, usage: str) -> CreatedResource:
        if logical_id not in (self._template.get("Resources") or {}):
            raise TemplateError(f"{usage}: {logical_id!r} is neither a parameter nor a resource")
        created = self._lookup(logical_id)
        if created is None:
            raise TemplateError(f"{usage}: resource {logical_id} does not exist (yet)")
        return created

    def _sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            text, variables = str(argument[0]), {k: self._resolve(v) for k, v in argument[1].items()}
        else:
            text, variables = str(argument), {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return _text(variables[name])
            if name in self._values:
                return _text(self._values[name])
            if "." in name:
                return _text(self._get_att(name))
            return _text(self._ref(name))

        return _SUB_VARIABLE.sub(replace, text)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        raise TemplateError(f"expected a string, got {value!r}")
    return str(value)


def references(node: Any) -> set[str]:
    """Every logical id or parameter name `node` refers to (Ref, GetAtt, Sub variables)."""
    found: set[str] = set()
    if isinstance(node, list):
        for item in node:
            found |= references(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value.split(".", 1)[0] if isinstance(value, str) else str(value[0]))
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                local = set(value[1]) if isinstance(value, list) else set()
                for name in _SUB_VARIABLE.findall(str(text)):
                    if not name.startswith("!") and name not in local:
                        found.add(name.split(".", 1)[0])
                if isinstance(value, list):
                    found |= references(value[1])
            else:
                found |= references(value)
    return found


def creation_order(resources: Mapping[str, Any]) -> list[str]:
    """Logical ids so that each comes after everything it references or `DependsOn`."""
    dependencies: dict[str, set[str]] = {}
    for logical_id, resource in resources.items():
        depends_on = resource.get("DependsOn") or []
        if isinstance(depends_on, str):
            depends_on = [depends_on]
        needed = references(resource.get("Properties") or {}) | set(depends_on)
        dependencies[logical_id] = {name for name in needed if name in resources and name != logical_id}
    order: list[str] = []
    state: dict[str, str] = {}

    def visit(logical_id: str, path: list[str]) -> None:
        if state.get(logical_id) == "done":
            return
        if state.get(logical_id) == "visiting":
            raise TemplateError(f"circular dependency: {' -> '.join([*path, logical_id])}")
        state[logical_id] = "visiting"
        for dependency in sorted(dependencies[logical_id]):
            visit(dependency, [*path, logical_id])
        state[logical_id] = "done"
        order.append(logical_id)

    for logical_id in resources:
        visit(logical_id, [])
    return order
