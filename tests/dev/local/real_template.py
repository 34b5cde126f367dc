"""The repository's `template.yaml` as a stack in one region would get it, without AWS: SAM-translated,
parameters, pseudo parameters and conditions evaluated; other resources stand for their logical id
(`Ref X` -> "X", `GetAtt X.Arn` -> "X.Arn"). Shared by the tests that check what the template grants."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from runway_bridge_dev.local.template import (
    CreatedResource,
    Resolver,
    load_template,
    parameter_values,
    parse_template,
    pseudo_parameters,
)

REAL_TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"
STACK = "bridge-a"
ACCOUNT = "111122223333"


class TranslatedStack(NamedTuple):
    template: dict[str, Any]  # the SAM-translated template, intrinsics untouched
    parameters: dict[str, Any]  # defaults with the given overrides
    resolver: Resolver


class _Attributes(dict[str, Any]):
    """Any attribute of a resource, named after it (`Bucket.Arn` -> "Bucket.Arn")."""

    def __init__(self, logical_id: str) -> None:
        super().__init__()
        self._id = logical_id

    def __contains__(self, name: object) -> bool:
        return True

    def __missing__(self, name: str) -> str:
        return f"{self._id}.{name}"


def _named(logical_id: str) -> CreatedResource:
    return CreatedResource(ref=logical_id, attributes=_Attributes(logical_id))


def translated(parameters: Mapping[str, Any] | None = None, region: str = "eu-west-1") -> TranslatedStack:
    values = parameter_values(parse_template(REAL_TEMPLATE), parameters)
    loaded = load_template(
        REAL_TEMPLATE, parameter_values=values, region=region, account_id=ACCOUNT, stack_name=STACK
    )
    pseudo = pseudo_parameters(region=region, account_id=ACCOUNT, stack_name=STACK)
    return TranslatedStack(
        template=dict(loaded.template),
        parameters=values,
        resolver=Resolver(loaded.template, values, pseudo, _named),
    )
