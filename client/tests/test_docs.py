"""Every Python example of docs/clients.md runs, against the live server (or, for the 429
examples, a stub that answers 429 first), and does what its section says."""

from __future__ import annotations

import csv
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import RECIPE, Answer, LiveServer, StubServer, page_of, tiny_png

from potluck_client import Client, RetryPolicy, TokenPair

DOC = Path(__file__).resolve().parents[2] / "docs" / "clients.md"
EXAMPLE = re.compile(r"<!-- test: ([\w-]+) -->\n```python\n(.*?)```", re.DOTALL)
FLAVORS = ("urllib", "requests", "potluck_client")
RECIPE_NAME = "Tomato Soup"


def examples() -> list[tuple[str, str, str]]:
    """(task, flavor, code) for each tested block, in the order of the page."""
    found = EXAMPLE.findall(DOC.read_text(encoding="utf-8"))
    return [(task, FLAVORS[n % 3], code) for n, (task, code) in enumerate(found)]


def test_every_python_example_is_tested_three_ways() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert text.count("```python") == len(examples())
    tasks = [task for task, _, _ in examples()]
    for task in set(tasks):
        flavors = [flavor for t, flavor, _ in examples() if t == task]
        assert flavors == list(FLAVORS), task


def value(result: Any, name: str) -> Any:
    """A field of what an example read: a dict from urllib or requests, a model from the
    client."""
    return result[name] if isinstance(result, dict) else getattr(result, name)


@pytest.fixture(scope="module")
def published(live_server: LiveServer, tokens: dict[str, tuple[str, str]]) -> Iterator[Client]:
    """Chef's client, and a published "Tomato Soup" with a cover (RECIPE_ID)."""
    with Client(live_server.url) as client:
        client.session.set_tokens(TokenPair(*tokens["chef"]))
        soup = client.create_recipe(name=RECIPE_NAME, ingredients=["1 kg tomatoes"])
        client.upload_cover(soup.id, tiny_png(), "soup.png")
        client.publish(soup.id)
        client.docs_recipe_id = soup.id  # type: ignore[attr-defined]
        yield client


@pytest.fixture(scope="module")
def api_key(published: Client) -> str:
    key = published.create_api_key("docs", scope="write").key
    assert key is not None
    return key


@pytest.fixture
def run_example(
    published: Client, api_key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., dict[str, Any]]:
    monkeypatch.chdir(tmp_path)

    def run(code: str, base_url: str) -> dict[str, Any]:
        names: dict[str, Any] = {
            "BASE_URL": base_url,
            "API_KEY": api_key,
            "RECIPE_ID": published.docs_recipe_id,  # type: ignore[attr-defined]
        }
        exec(compile(code, str(DOC), "exec"), names)  # noqa: S102 - our own documentation
        return names

    return run


def published_names(live_server: LiveServer) -> list[str]:
    with Client(live_server.url) as anonymous:
        return [recipe.name for recipe in anonymous.recipes()]


def check(task: str, names: dict[str, Any], live_server: LiveServer, published: Client) -> None:
    if task == "api-key":
        assert names["username"] == "chef"
    elif task == "list-and-search":
        assert RECIPE_NAME in names["matches"]
        assert sorted(names["names"]) == sorted(published_names(live_server))
    elif task == "read-one":
        assert value(names["recipe"], "name") == RECIPE_NAME
        assert names["unchanged"] is True
    elif task == "create":
        assert published.recipe(names["created_id"]).name == "Pancakes"
        if "location" in names:
            assert names["status"] == 201
            assert names["location"].endswith(f"/api/v1/recipes/{names['created_id']}")
    elif task == "errors":
        assert names["seen"] == [401, 404, 409]
    elif task == "csv":
        with open("recipes.csv", newline="", encoding="utf-8") as saved:
            rows = list(csv.DictReader(saved))
        assert sorted(row["name"] for row in rows) == sorted(published_names(live_server))
        assert "1 kg tomatoes" in [row["ingredients"] for row in rows]
    elif task == "cover":
        image = Path("cover.webp").read_bytes()
        assert image[:4] == b"RIFF"
        assert image[8:12] == b"WEBP"
    else:
        raise AssertionError(f"No check for the examples of {task!r}")


@pytest.mark.parametrize(
    ("task", "code"),
    [(task, code) for task, _, code in examples() if task != "rate-limited"],
    ids=[f"{task}-{flavor}" for task, flavor, _ in examples() if task != "rate-limited"],
)
def test_example_runs_against_the_live_server(
    task: str,
    code: str,
    run_example: Callable[..., dict[str, Any]],
    live_server: LiveServer,
    published: Client,
) -> None:
    names = run_example(code, live_server.url)
    check(task, names, live_server, published)


def test_a_post_with_an_api_key_and_an_idempotency_key(
    live_server: LiveServer, api_key: str
) -> None:
    with Client(live_server.url, api_key=api_key, retry=RetryPolicy(attempts=1)) as client:
        assert client.create_recipe(name="Written with a key").name == "Written with a key"


@pytest.mark.parametrize(
    "code",
    [code for task, _, code in examples() if task == "rate-limited"],
    ids=[flavor for task, flavor, _ in examples() if task == "rate-limited"],
)
def test_rate_limited_example_waits_and_retries(
    code: str, run_example: Callable[..., dict[str, Any]], stub: StubServer
) -> None:
    limited = Answer(429, {"title": "Too Many Requests"}, {"Retry-After": "1"})
    stub.on("GET /api/v1/recipes", limited, Answer(200, page_of(RECIPE)))

    started = time.monotonic()
    names = run_example(code, stub.url)

    assert time.monotonic() - started >= 1.0  # Retry-After honoured
    assert len(stub.requests("GET /api/v1/recipes")) == 2
    items = value(names["page"], "data" if isinstance(names["page"], dict) else "items")
    assert [value(item, "name") for item in items] == ["Stub Soup"]


def test_examples_need_only_what_the_page_names() -> None:
    # BASE_URL, API_KEY and RECIPE_ID, and nothing from this process's environment.
    for _, _, code in examples():
        assert "os.environ" not in code
    assert "POTLUCK" not in "".join(code for _, _, code in examples())
    assert os.path.exists(DOC)
