"""The house plan, beyond what import-linter's contracts check (`make lint`): the domain and
the services never touch the request, so the site and the command line can call them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import potluck

PACKAGE = Path(potluck.__file__).parent


def _request_imports(module: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("flask"):
            found += [f"{node.module}.{a.name}" for a in node.names if a.name == "request"]
        elif (
            isinstance(node, ast.Attribute)
            and node.attr == "request"
            and isinstance(node.value, ast.Name)
            and node.value.id == "flask"
        ):
            found.append("flask.request")
    return found


@pytest.mark.parametrize("layer", ["domain", "services"])
def test_the_domain_and_the_services_never_read_the_request(layer: str) -> None:
    modules = sorted((PACKAGE / layer).rglob("*.py"))
    assert modules, f"no modules under {layer}/"
    offenders = {
        str(module.relative_to(PACKAGE)): uses
        for module in modules
        if (uses := _request_imports(module))
    }
    assert offenders == {}


def test_the_check_sees_a_request_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("from flask import g, request\nimport flask\nflask.request.args\n")
    assert _request_imports(module) == ["flask.request", "flask.request"]
