"""export and import: the JSON round trip, schema.org JSON-LD, CSV, skipping what was
imported before, and URL imports (the live server fetching a page from the stub, and the
reports of a list against a scripted stub)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import (
    PASSWORD,
    RECIPE,
    Answer,
    Cli,
    LiveServer,
    StubServer,
    page_of,
    tiny_png,
    unique,
)

from potluck_client import Client
from potluck_client.formats import duration_minutes, from_jsonld, iso_duration
from potluck_client.models import WRITABLE_FIELDS

ISO_DURATION = re.compile(r"^PT(?:\d+H)?(?:\d+M)?$")


@pytest.fixture
def author(
    make_client: Callable[..., Client], make_user: Callable[[], str], live_server: LiveServer
) -> Client:
    """A new user with three recipes: published with a cover, published, and a draft."""
    with Client(live_server.url) as login:
        tokens = login.login(make_user(), PASSWORD)
    client = make_client(None)
    client.session.set_tokens(tokens)
    soup = client.create_recipe(
        name="Tomato Soup",
        description="Red and warm.",
        num_of_servings=4,
        cook_time=90,
        prep_time=15,
        ingredients=["1 kg tomatoes", "1 onion"],
        directions=["Chop.", "Simmer.", "Blend."],
        tags=["soup", "vegetarian"],
        source_url=f"https://example.com/{unique()}",
    )
    client.upload_cover(soup.id, tiny_png(), "soup.png")
    client.publish(soup.id)
    bread = client.create_recipe(name="Bread", ingredients=["flour", "water"], cook_time=40)
    client.publish(bread.id)
    client.create_recipe(name="Secret Sauce", directions=["Stir."])
    return client


def cli_as(live_server: LiveServer, home: Path, username: str) -> Cli:
    cli = Cli(live_server.url, home)
    cli.login(username)
    return cli


def content(recipe: dict[str, Any]) -> dict[str, Any]:
    """What a copy must keep: the writable fields and whether it is published."""
    return {name: recipe.get(name) for name in (*WRITABLE_FIELDS, "is_publish")}


def test_json_export_then_import_round_trips(
    author: Client, make_user: Callable[[], str], live_server: LiveServer, tmp_path: Path
) -> None:
    owner = author.me().username
    new_user = make_user()
    exported = tmp_path / "recipes.json"
    source_cli = cli_as(live_server, tmp_path / "a", owner)
    done = source_cli("export", "--format", "json", "--user", owner, "-o", str(exported))
    assert done.exit_code == 0, done.output
    assert "Exported 3 recipes" in done.stderr
    originals = json.loads(exported.read_text())
    assert sorted(r["name"] for r in originals) == ["Bread", "Secret Sauce", "Tomato Soup"]

    target_cli = cli_as(live_server, tmp_path / "b", new_user)
    imported = target_cli("import", str(exported), "--json")
    assert imported.exit_code == 0, imported.output
    assert [r["status"] for r in json.loads(imported.stdout)] == ["created"] * 3

    copy = tmp_path / "copy.json"
    assert target_cli("export", "--user", new_user, "-o", str(copy)).exit_code == 0
    copies = json.loads(copy.read_text())
    by_name = sorted(originals, key=lambda r: r["name"])
    assert [content(r) for r in sorted(copies, key=lambda r: r["name"])] == [
        content(r) for r in by_name
    ]
    soup = next(r for r in copies if r["name"] == "Tomato Soup")
    assert soup["cover_url"].startswith(live_server.url + "/media/")  # the cover came along
    assert {r["author"]["username"] for r in copies} == {new_user}

    again = target_cli("import", str(exported), "--json")
    reports = {r["source"]: r for r in json.loads(again.stdout)}
    assert reports["Tomato Soup"]["status"] == "skipped"  # same source_url as before
    assert "already imported" in reports["Tomato Soup"]["detail"]
    assert reports["Bread"]["status"] == "created"  # no source_url to know it by


def test_jsonld_export_is_schema_org_recipes(
    author: Client, live_server: LiveServer, tmp_path: Path
) -> None:
    owner = author.me().username
    out = tmp_path / "recipes.jsonld"
    cli = cli_as(live_server, tmp_path / "a", owner)
    assert cli("export", "-F", "jsonld", "-u", owner, "-o", str(out)).exit_code == 0

    document = json.loads(out.read_text())
    assert document["@context"] == "https://schema.org"
    nodes = {node["name"]: node for node in document["@graph"]}
    assert set(nodes) == {"Tomato Soup", "Bread", "Secret Sauce"}
    for node in nodes.values():
        assert node["@type"] == "Recipe"
        assert isinstance(node["recipeIngredient"], list)
        assert all(step["@type"] == "HowToStep" for step in node["recipeInstructions"])
        assert all(isinstance(step["text"], str) for step in node["recipeInstructions"])
        assert node["author"] == {
            "@type": "Person",
            "name": owner,
            "url": f"{live_server.url}/api/v1/users/{owner}",
        }
        datetime.fromisoformat(node["datePublished"])
        for key in ("cookTime", "prepTime", "totalTime"):
            assert key not in node or ISO_DURATION.match(node[key]), node[key]
        assert httpx.get(node["author"]["url"]).status_code == 200

    soup = nodes["Tomato Soup"]
    assert soup["cookTime"] == "PT1H30M"
    assert soup["prepTime"] == "PT15M"
    assert soup["totalTime"] == "PT1H45M"
    assert soup["recipeYield"] == "4 servings"
    assert soup["keywords"] == "soup, vegetarian"
    assert [s["text"] for s in soup["recipeInstructions"]] == ["Chop.", "Simmer.", "Blend."]
    assert httpx.get(soup["url"]).json()["name"] == "Tomato Soup"
    large = httpx.get(soup["image"][0])
    assert large.headers["Content-Type"] == "image/webp"
    assert soup["isBasedOn"].startswith("https://example.com/")

    # And it reads back: what JSON-LD carries survives an import.
    back = from_jsonld(soup).fields
    assert back["cook_time"] == 90
    assert back["prep_time"] == 15
    assert back["num_of_servings"] == 4
    assert back["directions"] == ["Chop.", "Simmer.", "Blend."]
    assert back["tags"] == ["soup", "vegetarian"]


def test_import_a_jsonld_file(
    make_user: Callable[[], str], live_server: LiveServer, tmp_path: Path
) -> None:
    page = tmp_path / "page.jsonld"
    page.write_text(
        json.dumps(
            {
                "@context": "https://schema.org",
                "@type": ["Recipe", "NewsArticle"],
                "name": "Grandma's Stew",
                "recipeYield": ["6", "6 bowls"],
                "cookTime": "PT2H",
                "recipeIngredient": ["beef", " carrots "],
                "recipeInstructions": [
                    {"@type": "HowToSection", "itemListElement": [{"text": "Brown the beef."}]},
                    "Add carrots.",
                ],
                "keywords": ["stew", "winter"],
                "url": "https://example.com/stew",
            }
        )
    )
    cli = cli_as(live_server, tmp_path / "home", make_user())

    result = cli("import", str(page), "--json")

    assert result.exit_code == 0, result.output
    (report,) = json.loads(result.stdout)
    assert report["status"] == "created"
    recipe = json.loads(cli("recipes", "show", str(report["id"]), "--json").stdout)
    assert recipe["num_of_servings"] == 6
    assert recipe["cook_time"] == 120
    assert recipe["ingredients"] == ["beef", "carrots"]
    assert recipe["directions"] == ["Brown the beef.", "Add carrots."]
    assert recipe["tags"] == ["stew", "winter"]
    assert recipe["source_url"] == "https://example.com/stew"
    assert recipe["is_publish"] is False


def test_an_import_with_a_bad_item_reports_it_and_exits_1(
    make_user: Callable[[], str], live_server: LiveServer, tmp_path: Path
) -> None:
    batch = tmp_path / "batch.json"
    batch.write_text(json.dumps([{"name": "Fine"}, {"name": "Bad", "cook_time": 0}]))
    cli = cli_as(live_server, tmp_path / "home", make_user())

    result = cli("import", str(batch))

    assert result.exit_code == 1
    assert "1 created, 0 skipped, 1 failed" in result.stderr
    assert "Bad" in result.stdout


def test_csv_export_is_the_servers_csv_page_by_page(
    author: Client, live_server: LiveServer, tmp_path: Path
) -> None:
    owner = author.me().username
    cli = cli_as(live_server, tmp_path / "a", owner)
    result = cli("export", "--format", "csv", "--user", owner)
    assert result.exit_code == 0, result.output

    rows = list(csv.DictReader(io.StringIO(result.stdout, newline="")))
    assert sorted(row["name"] for row in rows) == ["Bread", "Secret Sauce", "Tomato Soup"]
    soup = next(row for row in rows if row["name"] == "Tomato Soup")
    assert soup["ingredients"] == "1 kg tomatoes\n1 onion"
    assert soup["author"] == owner


def test_public_export_follows_every_page(author: Client, cli: Cli) -> None:
    expected = sum(1 for _ in author.recipes(per_page=100))
    result = cli("export", "--format", "json")
    assert result.exit_code == 0, result.output
    exported = json.loads(result.stdout)
    assert len(exported) == expected
    assert all(r["is_publish"] for r in exported)


STEW_PAGE = """<!doctype html>
<html><head><title>Grandma's Stew</title>
<script type="application/ld+json">{node}</script></head>
<body><h1>Grandma's Stew</h1></body></html>"""
STEW = {
    "@context": "https://schema.org",
    "@type": "Recipe",
    "name": "Grandma's Stew",
    "recipeIngredient": ["500 g beef", "3 carrots"],
    "recipeInstructions": [{"@type": "HowToStep", "text": "Brown the beef."}],
    "cookTime": "PT2H",
    "recipeYield": "6",
}


def test_url_imports_on_the_live_server(
    stub: StubServer, make_user: Callable[[], str], live_server: LiveServer, tmp_path: Path
) -> None:
    page = STEW_PAGE.format(node=json.dumps(STEW)).encode()
    html = "text/html; charset=utf-8"
    stub.on("GET /stew", Answer(200, raw=page, content_type=html))
    stub.on(
        "GET /nothing", Answer(200, raw=b"<html><body>No recipe.</body></html>", content_type=html)
    )
    cli = cli_as(live_server, tmp_path / "home", make_user())
    stew = f"{stub.url}/stew"

    first = cli("import", stew, "--json")

    assert first.exit_code == 0, first.output
    (report,) = json.loads(first.stdout)
    assert report["status"] == "created"
    recipe = json.loads(cli("recipes", "show", str(report["id"]), "--json").stdout)
    assert recipe["name"] == "Grandma's Stew"
    assert recipe["ingredients"] == ["500 g beef", "3 carrots"]
    assert recipe["cook_time"] == 120
    assert recipe["source_url"] == stew
    assert recipe["is_publish"] is False

    urls = tmp_path / "urls.txt"
    urls.write_text(f"{stew}\n{stub.url}/nothing\n")
    second = cli("import", "--from-list", str(urls), "--json")
    assert second.exit_code == 1
    skipped, failed = json.loads(second.stdout)
    assert skipped["status"] == "skipped"  # the same page as before
    assert failed["status"] == "failed"
    assert failed["detail"].endswith("(422)")
    assert len(stub.requests("GET /stew")) == 1  # the server fetched it once


def test_url_import_through_the_server(stub: StubServer, tmp_path: Path) -> None:
    known = "https://example.com/known"
    stub.on("GET /api/v1/me", Answer(200, {"id": 1, "username": "chef"}))
    stub.on("GET /api/v1/users/chef/recipes", Answer(200, page_of({**RECIPE, "source_url": known})))
    stub.on(
        "POST /api/v1/recipes/import",
        Answer(201, {**RECIPE, "id": 8, "source_url": "https://example.com/new"}),
        Answer(422, {"title": "Unprocessable", "detail": "No recipe found on that page."}),
    )
    urls = tmp_path / "urls.txt"
    urls.write_text(f"# to try\n{known}\nhttps://example.com/new\n\nhttps://example.com/none\n")
    cli = Cli(stub.url, tmp_path / "home", env={"POTLUCK_API_KEY": "pk_stub"})

    result = cli("import", "--from-list", str(urls), "--json")

    assert result.exit_code == 1  # one failed
    reports = json.loads(result.stdout)
    assert [r["status"] for r in reports] == ["skipped", "created", "failed"]
    assert reports[1]["id"] == 8
    assert reports[2]["detail"] == "No recipe found on that page. (422)"
    bodies = [json.loads(seen.body) for seen in stub.requests("POST /api/v1/recipes/import")]
    assert bodies == [{"url": "https://example.com/new"}, {"url": "https://example.com/none"}]
    listing = stub.requests("GET /api/v1/users/chef/recipes")[0]
    assert "visibility=all" in listing.path
    assert all(s.headers["Authorization"] == "Bearer pk_stub" for s in stub.seen)

    other = {**RECIPE, "id": 9, "source_url": "https://example.com/other"}
    stub.on("POST /api/v1/recipes/import", Answer(201, other))
    single = cli("import", "https://example.com/other")
    assert single.exit_code == 0, single.output
    assert "1 created, 0 skipped, 0 failed" in single.stderr


@pytest.mark.parametrize(
    ("minutes", "duration"),
    [(1, "PT1M"), (30, "PT30M"), (60, "PT1H"), (90, "PT1H30M"), (1440, "PT24H")],
)
def test_durations_both_ways(minutes: int, duration: str) -> None:
    assert iso_duration(minutes) == duration
    assert duration_minutes(duration) == minutes


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("P1DT2H", 1560), ("PT90S", 2), ("PT0M", None), ("30 minutes", None), (None, None)],
)
def test_other_durations(text: str | None, minutes: int | None) -> None:
    assert duration_minutes(text) == minutes


def test_an_unreadable_file_is_a_usage_error(chef_cli: Cli, tmp_path: Path) -> None:
    odd = tmp_path / "odd.json"
    odd.write_text(json.dumps([{"title": "no name"}]))
    result = chef_cli("import", str(odd))
    assert result.exit_code == 2
    assert "neither recipes" in result.output
    assert chef_cli("import", str(tmp_path / "missing.json")).exit_code == 2
