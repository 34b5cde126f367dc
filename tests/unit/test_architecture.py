"""Handlers stay thin: they parse, call one service from wiring/ and answer. The import contracts
in pyproject.toml (run by `lint-imports` in `make test`) keep the package's layers; this keeps the
handlers, which live outside the package, to wiring, logic and models."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

HANDLERS = sorted((Path(__file__).resolve().parents[2] / "functions").glob("*/app.py"))
# Never in a handler: the adapters (wiring builds them) and the SDKs they wrap.
FORBIDDEN = ("runway_bridge.adapters", "boto3", "botocore", "httpx")


def imported_modules(source: str) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    return modules


def forbidden_imports(source: str) -> list[str]:
    return sorted(
        module
        for module in imported_modules(source)
        if any(module == name or module.startswith(f"{name}.") for name in FORBIDDEN)
    )


def test_every_function_has_a_handler() -> None:
    assert len(HANDLERS) == 7


@pytest.mark.parametrize("handler", HANDLERS, ids=lambda path: path.parent.name)
def test_a_handler_imports_no_adapter_and_no_sdk(handler: Path) -> None:
    assert forbidden_imports(handler.read_text()) == []


def test_the_rule_sees_an_adapter_imported_by_a_handler() -> None:
    assert forbidden_imports("from runway_bridge.adapters.aws import aws_client\nimport httpx\n") == [
        "httpx",
        "runway_bridge.adapters.aws",
    ]
