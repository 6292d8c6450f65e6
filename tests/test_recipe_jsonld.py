"""A recipe as schema.org JSON-LD: `Accept: application/ld+json` on GET one recipe (its own
ETag, 304, Vary, drafts private, never mixed up with the JSON by a cache or the replay), and
the builder and <script> serializer the site's recipe page uses."""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import assert_problem
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from potluck.domain.models import Recipe, User
from potluck.services.recipe_jsonld import iso_duration, jsonld_script, recipe_jsonld

JSONLD = "application/ld+json"
AS_JSONLD = {"Accept": JSONLD}
REPLAY = "Potluck; hit; detail=replay"
MakeRecipe = Callable[..., dict[str, Any]]


@pytest.fixture
def recipe(auth_headers: dict[str, str], make_recipe: MakeRecipe) -> dict[str, Any]:
    return make_recipe(auth_headers)


def path_of(recipe: dict[str, Any]) -> str:
    return f"/api/v1/recipes/{recipe['id']}"


def test_a_recipe_as_schema_org_jsonld(
    app: Flask, client: FlaskClient, recipe: dict[str, Any]
) -> None:
    response = client.get(path_of(recipe), headers=AS_JSONLD)
    assert response.status_code == 200
    assert response.content_type == JSONLD
    assert "Accept" in response.vary
    assert response.headers["Cache-Control"] == "public, no-cache"
    assert response.headers["ETag"] != client.get(path_of(recipe)).headers["ETag"]
    assert response.headers["Last-Modified"]
    base = app.config["PUBLIC_BASE_URL"]
    url = f"{base}{path_of(recipe)}"
    body = json.loads(response.data)
    published = body.pop("datePublished")
    assert datetime.fromisoformat(published) >= datetime.fromisoformat(recipe["created_at"])
    assert body == {
        "@context": "https://schema.org",
        "@type": "Recipe",
        "@id": url,
        "url": url,
        "name": "Tomato Soup",
        "description": "A quick weeknight soup.",
        "author": {"@type": "Person", "name": "alice", "url": f"{base}/api/v1/users/alice"},
        "dateModified": client.get(path_of(recipe)).json["updated_at"],
        "recipeYield": "4 servings",
        "prepTime": "PT10M",
        "cookTime": "PT30M",
        "totalTime": "PT40M",
        "recipeIngredient": ["1 kg tomatoes", "1 onion", "2 cloves garlic"],
        "recipeInstructions": [
            {"@type": "HowToStep", "position": 1, "text": "Chop everything."},
            {"@type": "HowToStep", "position": 2, "text": "Simmer for 25 minutes."},
            {"@type": "HowToStep", "position": 3, "text": "Blend."},
        ],
        "keywords": "soup, vegetarian",
    }
    assert datetime.fromisoformat(body["dateModified"]).tzinfo is not None
    alias = client.get(f"/recipes/{recipe['id']}", headers=AS_JSONLD)
    assert alias.status_code == 200
    assert alias.content_type == JSONLD
    assert alias.data == response.data  # the canonical URLs, whichever path asked


def test_json_answers_are_unchanged(client: FlaskClient, recipe: dict[str, Any]) -> None:
    plain = client.get(path_of(recipe))
    assert plain.status_code == 200
    assert plain.content_type == "application/json"
    assert plain.json == recipe | {"is_publish": True, "updated_at": plain.json["updated_at"]}
    assert "@context" not in plain.json
    assert plain.headers["ETag"] != client.get(path_of(recipe), headers=AS_JSONLD).headers["ETag"]
    assert "Accept" in plain.vary  # the answer now depends on Accept
    for accept in ("application/json", "*/*", "application/*", "application/json, */*;q=0.1"):
        negotiated = client.get(path_of(recipe), headers={"Accept": accept})
        assert negotiated.status_code == 200, accept
        assert negotiated.content_type == "application/json", accept
        assert negotiated.data == plain.data, accept
        assert negotiated.headers["ETag"] == plain.headers["ETag"], accept
    preferred = client.get(
        path_of(recipe), headers={"Accept": "application/json;q=0.5, application/ld+json"}
    )
    assert preferred.content_type == JSONLD


@pytest.mark.parametrize("accept", ["text/html", "image/*", "application/xml"])
def test_an_accept_allowing_neither_is_406(
    client: FlaskClient, recipe: dict[str, Any], accept: str
) -> None:
    response = client.get(path_of(recipe), headers={"Accept": accept})
    assert_problem(response, 406, "application/ld+json")


def test_drafts_stay_private_in_jsonld(
    client: FlaskClient,
    auth_headers: dict[str, str],
    other_headers: dict[str, str],
    make_recipe: MakeRecipe,
) -> None:
    draft = make_recipe(auth_headers, publish=False)
    assert_problem(client.get(path_of(draft), headers=AS_JSONLD), 404)
    assert_problem(client.get(path_of(draft), headers={**AS_JSONLD, **other_headers}), 404)
    own = client.get(path_of(draft), headers={**AS_JSONLD, **auth_headers})
    assert own.status_code == 200
    assert own.content_type == JSONLD
    assert own.headers["Cache-Control"] == "private, no-cache"
    assert "Authorization" in own.vary
    assert "datePublished" not in own.json  # never published
    assert own.json["name"] == "Tomato Soup"


def test_each_representation_revalidates_with_its_own_etag(
    client: FlaskClient, recipe: dict[str, Any], auth_headers: dict[str, str]
) -> None:
    path = path_of(recipe)
    as_json = client.get(path).headers["ETag"]
    as_jsonld = client.get(path, headers=AS_JSONLD).headers["ETag"]
    assert as_json != as_jsonld
    for held in (as_jsonld, f"W/{as_jsonld}", f'"other", {as_jsonld}'):
        fresh = client.get(path, headers={**AS_JSONLD, "If-None-Match": held})
        assert fresh.status_code == 304, held
        assert fresh.data == b""
        assert fresh.headers["ETag"] == as_jsonld
        assert fresh.headers["Cache-Control"] == "public, no-cache"
    # Neither tag revalidates a copy of the other representation.
    other = client.get(path, headers={**AS_JSONLD, "If-None-Match": as_json})
    assert other.status_code == 200
    assert other.content_type == JSONLD
    other = client.get(path, headers={"If-None-Match": as_jsonld})
    assert other.status_code == 200
    assert other.content_type == "application/json"
    changed = client.patch(path, json={"name": "Roast Tomato Soup"}, headers=auth_headers)
    assert changed.status_code == 200
    stale = client.get(path, headers={**AS_JSONLD, "If-None-Match": as_jsonld})
    assert stale.status_code == 200
    assert stale.json["name"] == "Roast Tomato Soup"
    assert stale.headers["ETag"] != as_jsonld
    assert stale.headers["ETag"] != client.get(path).headers["ETag"]


def test_the_replay_keeps_json_and_jsonld_apart(
    client: FlaskClient, recipe: dict[str, Any]
) -> None:
    path = path_of(recipe)
    first = client.get(path, headers=AS_JSONLD)
    replayed = client.get(path, headers=AS_JSONLD)
    assert replayed.headers["Cache-Status"] == REPLAY
    assert replayed.content_type == JSONLD
    assert replayed.data == first.data
    for headers in ({}, {"Accept": "application/json"}, {"Accept": "*/*"}):
        for _ in range(2):  # the first from Flask, the second a replay of it
            plain = client.get(path, headers=headers)
            assert plain.content_type == "application/json", headers
            assert "@context" not in plain.json
    assert plain.headers["Cache-Status"] == REPLAY
    again = client.get(path, headers=AS_JSONLD)
    assert again.headers["Cache-Status"] == REPLAY
    assert again.content_type == JSONLD
    crossed = client.get(path, headers={**AS_JSONLD, "If-None-Match": plain.headers["ETag"]})
    assert crossed.status_code == 200
    assert crossed.content_type == JSONLD
    crossed = client.get(path, headers={"If-None-Match": first.headers["ETag"]})
    assert crossed.status_code == 200
    assert crossed.content_type == "application/json"
    refused = client.get(path, headers={"Accept": "text/html"})
    assert_problem(refused, 406)


def test_a_large_jsonld_answer_is_gzipped(
    client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe
) -> None:
    steps = [f"Step {n}: stir the pot slowly and patiently." for n in range(60)]
    path = path_of(make_recipe(auth_headers, directions=steps))
    plain = client.get(path, headers=AS_JSONLD)
    zipped = client.get(path, headers={**AS_JSONLD, "Accept-Encoding": "gzip"})
    assert zipped.status_code == 200
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.content_type == JSONLD
    assert gzip.decompress(zipped.data) == plain.data
    assert zipped.headers["ETag"] == plain.headers["ETag"][:-1] + '-gzip"'
    fresh = client.get(path, headers={**AS_JSONLD, "If-None-Match": zipped.headers["ETag"]})
    assert fresh.status_code == 304


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 80, 40)).save(out, "PNG")
    return out.getvalue()


def test_cover_source_and_display_name(
    app: Flask,
    client: FlaskClient,
    register: Callable[..., dict[str, Any]],
    login: Callable[[str], dict[str, str]],
    make_recipe: MakeRecipe,
) -> None:
    register("carol", display_name="Carol C.")
    headers = login("carol")
    recipe = make_recipe(headers, source_url="https://example.com/soup", num_of_servings=1)
    cover = FileStorage(io.BytesIO(_png()), filename="c.png", content_type="image/png")
    boundary, data = encode_multipart({"cover": cover})
    uploaded = client.put(
        f"{path_of(recipe)}/cover",
        data=data,
        headers=headers,
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert uploaded.status_code in {200, 201}, uploaded.json
    body = client.get(path_of(recipe), headers=AS_JSONLD).json
    base = app.config["PUBLIC_BASE_URL"]
    sizes = uploaded.json
    assert body["image"] == [base + sizes["large"], base + sizes["thumbnail"]]
    assert body["isBasedOn"] == "https://example.com/soup"
    assert body["author"] == {
        "@type": "Person",
        "name": "Carol C.",
        "url": f"{base}/api/v1/users/carol",
    }
    assert body["recipeYield"] == "1 serving"


def test_the_openapi_document_lists_jsonld(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").json
    operation = spec["paths"]["/api/v1/recipes/{recipe_id}"]["get"]
    content = operation["responses"]["200"]["content"]
    assert set(content) == {"application/json", JSONLD}
    assert content["application/json"]["schema"] == {"$ref": "#/components/schemas/RecipeOutput"}
    jsonld = content[JSONLD]["schema"]
    assert jsonld["properties"]["@type"]["enum"] == ["Recipe"]
    assert "recipeInstructions" in jsonld["properties"]
    assert "406" in operation["responses"]


# The builder and the serializer, as the site's recipe page uses them.

WHEN = datetime(2026, 5, 1, 12, 30, tzinfo=UTC)


def _transient_recipe(**fields: Any) -> Recipe:
    values: dict[str, Any] = {
        "name": "Soup",
        "description": "",
        "num_of_servings": 2,
        "cook_time": None,
        "prep_time": None,
        "ingredients": ["1 onion"],
        "directions": [],
        "source_url": None,
        "is_publish": False,
        "published_at": None,
        "created_at": WHEN,
        "updated_at": WHEN,
        "author": User(username="dora", display_name=""),
    }
    return Recipe(**(values | fields))


def test_empty_fields_are_left_out_not_null() -> None:
    document = recipe_jsonld(
        _transient_recipe(),
        recipe_url="https://potluck.example/r/1",
        image_urls=None,
        author_url="https://potluck.example/u/dora",
    )
    assert document == {
        "@context": "https://schema.org",
        "@type": "Recipe",
        "@id": "https://potluck.example/r/1",
        "url": "https://potluck.example/r/1",
        "name": "Soup",
        "author": {"@type": "Person", "name": "dora", "url": "https://potluck.example/u/dora"},
        "dateModified": "2026-05-01T12:30:00+00:00",
        "recipeYield": "2 servings",
        "recipeIngredient": ["1 onion"],
        "recipeInstructions": [],
    }


def test_only_one_time_still_gives_a_total() -> None:
    document = recipe_jsonld(
        _transient_recipe(cook_time=75),
        recipe_url="u",
        image_urls={"large": "L", "thumbnail": "T"},
        author_url="a",
    )
    assert (document.get("prepTime"), document["cookTime"]) == (None, "PT1H15M")
    assert document["totalTime"] == "PT1H15M"
    assert document["image"] == ["L", "T"]


@pytest.mark.parametrize(
    ("minutes", "duration"),
    [
        (None, None),
        (1, "PT1M"),
        (45, "PT45M"),
        (60, "PT1H"),
        (90, "PT1H30M"),
        (125, "PT2H5M"),
        (1440, "PT24H"),
    ],
)
def test_iso_durations(minutes: int | None, duration: str | None) -> None:
    assert iso_duration(minutes) == duration


def test_script_text_cannot_end_its_element() -> None:
    hostile = "</script><script>alert(1)</script><!-- & \u2028\u2029 é"
    document = {"@type": "Recipe", "name": hostile, "recipeIngredient": ["1 < 2 > 0"]}
    text = str(jsonld_script(document))
    for character in "<>&\u2028\u2029":
        assert character not in text
    assert "\\u003c/script\\u003e" in text
    assert "\\u0026" in text
    assert "\\u2028\\u2029" in text
    assert "é" in text  # other text stays as it is
    assert json.loads(text) == document
    assert jsonld_script(document).__html__() == text  # Jinja inserts it without escaping


@given(st.dictionaries(st.text(), st.recursive(st.text(), st.lists, max_leaves=5), max_size=4))
def test_script_text_is_always_inert_and_the_same_json(document: dict[str, Any]) -> None:
    text = str(jsonld_script(document))
    assert not set(text) & set("<>&\u2028\u2029")
    assert json.loads(text) == document
