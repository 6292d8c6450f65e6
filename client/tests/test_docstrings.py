"""Every public function and method of the library says what it does, with an example."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterator

import pytest

MODULES = (
    "accounts",
    "client",
    "config",
    "errors",
    "formats",
    "models",
    "recipes",
    "retries",
    "session",
)


def public_callables() -> Iterator[tuple[str, object]]:
    for name in MODULES:
        module = importlib.import_module(f"potluck_client.{name}")
        for attribute, value in vars(module).items():
            if attribute.startswith("_") or getattr(value, "__module__", None) != module.__name__:
                continue
            if inspect.isfunction(value):
                yield f"{name}.{attribute}", value
            elif inspect.isclass(value):
                for member, inner in vars(value).items():
                    function = inner.fget if isinstance(inner, property) else inner
                    if isinstance(function, classmethod):
                        function = function.__func__
                    if not member.startswith("_") and inspect.isfunction(function):
                        yield f"{name}.{attribute}.{member}", function


@pytest.mark.parametrize(("name", "function"), list(public_callables()))
def test_public_function_has_a_docstring_with_an_example(name: str, function: object) -> None:
    assert "Example" in (inspect.getdoc(function) or ""), name


def test_the_walk_finds_the_api() -> None:
    names = {name for name, _ in public_callables()}
    assert {
        "recipes.RecipeMethods.create_recipe",
        "errors.error_for",
        "models.Recipe.from_json",
    } <= names
    assert len(names) > 50
