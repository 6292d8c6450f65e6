"""Recipes: the life cycle, visibility of drafts, authorship and input validation."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import PROBLEM, RECIPE
from flask.testing import FlaskClient


def test_recipe_life_cycle(client: FlaskClient, auth_headers: dict[str, str]) -> None:
    created = client.post("/api/v1/recipes", json=RECIPE, headers=auth_headers)
    assert created.status_code == 201
    recipe = created.json
    assert created.headers["Location"] == f"/api/v1/recipes/{recipe['id']}"
    assert recipe["is_publish"] is False
    assert recipe["author"]["username"] == "alice"
    assert recipe["tags"] == ["soup", "vegetarian"]
    assert recipe["created_at"].endswith("+00:00")
    url = created.headers["Location"]

    read = client.get(url, headers=auth_headers)
    assert read.status_code == 200
    assert read.json == recipe

    replaced = client.put(url, json={"name": "Roast Tomato Soup"}, headers=auth_headers)
    assert replaced.status_code == 200
    assert replaced.json["name"] == "Roast Tomato Soup"
    assert replaced.json["ingredients"] == []  # PUT resets what it leaves out
    assert replaced.json["tags"] == []

    patched = client.patch(url, json={"cook_time": 45, "tags": ["Soup"]}, headers=auth_headers)
    assert patched.status_code == 200
    assert patched.json["cook_time"] == 45
    assert patched.json["tags"] == ["soup"]
    assert patched.json["name"] == "Roast Tomato Soup"

    assert client.get(url).status_code == 404  # a draft is private
    published = client.put(f"{url}/publish", headers=auth_headers)
    assert published.status_code == 204
    assert published.data == b""
    assert "Content-Type" not in published.headers
    public = client.get(url)
    assert public.status_code == 200
    assert public.json["is_publish"] is True

    assert client.delete(f"{url}/publish", headers=auth_headers).status_code == 204
    assert client.get(url).status_code == 404

    deleted = client.delete(url, headers=auth_headers)
    assert deleted.status_code == 204
    gone = client.get(url, headers=auth_headers)
    assert gone.status_code == 404
    assert gone.content_type == PROBLEM


def test_drafts_are_invisible_to_others(
    client: FlaskClient,
    auth_headers: dict[str, str],
    other_headers: dict[str, str],
    make_recipe: Any,
) -> None:
    draft = make_recipe(auth_headers, publish=False)
    missing = client.get("/api/v1/recipes/999999", headers=other_headers)
    hidden = client.get(f"/api/v1/recipes/{draft['id']}", headers=other_headers)
    assert hidden.status_code == missing.status_code == 404
    # The same answer as for a recipe that does not exist, but for the id.
    assert hidden.json["detail"].replace(str(draft["id"]), "N") == missing.json["detail"].replace(
        "999999", "N"
    )
    for method in ("put", "patch", "delete"):
        response = getattr(client, method)(
            f"/api/v1/recipes/{draft['id']}", json={"name": "x"}, headers=other_headers
        )
        assert response.status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("put", "", {"name": "Mine now"}),
        ("patch", "", {"name": "Mine now"}),
        ("delete", "", None),
        ("put", "/publish", None),
        ("delete", "/publish", None),
    ],
)
def test_only_the_author_changes_a_recipe(
    client: FlaskClient,
    auth_headers: dict[str, str],
    other_headers: dict[str, str],
    make_recipe: Any,
    method: str,
    path: str,
    body: dict[str, str] | None,
) -> None:
    recipe = make_recipe(auth_headers)
    url = f"/api/v1/recipes/{recipe['id']}"
    response = getattr(client, method)(url + path, json=body, headers=other_headers)
    assert response.status_code == 403
    assert response.content_type == PROBLEM
    assert "author" in response.json["detail"]
    assert client.get(url).json["name"] == RECIPE["name"]
    assert client.get(url).json["is_publish"] is True


@pytest.mark.parametrize(
    ("method", "path"),
    [("post", ""), ("put", "/1"), ("patch", "/1"), ("delete", "/1"), ("put", "/1/publish")],
)
def test_writing_needs_a_token(client: FlaskClient, method: str, path: str) -> None:
    response = getattr(client, method)(f"/api/v1/recipes{path}", json=RECIPE)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.content_type == PROBLEM


def test_newline_separated_lines_are_accepted(
    client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    body = {**RECIPE, "ingredients": "2 cups flour\n\n 1 egg \r\n", "directions": "Mix.\nBake."}
    response = client.post("/api/v1/recipes", json=body, headers=auth_headers)
    assert response.status_code == 201
    assert response.json["ingredients"] == ["2 cups flour", "1 egg"]
    assert response.json["directions"] == ["Mix.", "Bake."]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", ""),
        ("name", "x" * 101),
        ("name", 42),
        ("name", None),
        ("name", "bad\x00name"),
        ("name", "two\nlines"),
        ("description", "x" * 1001),
        ("num_of_servings", 0),
        ("num_of_servings", 51),
        ("num_of_servings", "4"),
        ("num_of_servings", 2.5),
        ("num_of_servings", True),
        ("cook_time", 0),
        ("cook_time", 1441),
        ("prep_time", -5),
        ("ingredients", [1, 2]),
        ("ingredients", {"a": 1}),
        ("ingredients", ["x" * 501]),
        ("directions", ["step"] * 101),
        ("tags", ["x" * 31]),
        ("tags", ["<script>"]),
        ("tags", ",".join(f"tag{n}" for n in range(21))),
        ("source_url", "javascript:alert(1)"),
        ("source_url", "not a url"),
        ("id", 7),
        ("author_id", 2),
        ("is_publish", True),
        ("created_at", "2020-01-01T00:00:00Z"),
    ],
)
def test_invalid_fields_are_400_and_change_nothing(
    client: FlaskClient, auth_headers: dict[str, str], field: str, value: Any
) -> None:
    response = client.post("/api/v1/recipes", json={**RECIPE, field: value}, headers=auth_headers)
    assert response.status_code == 400
    assert response.content_type == PROBLEM
    assert response.json["status"] == 400
    assert field in response.json["errors"]
    assert (
        client.get("/api/v1/users/alice/recipes?visibility=all", headers=auth_headers).json["total"]
        == 0
    )


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b'["a list"]', "application/json", 400),
        (b'"a string"', "application/json", 400),
        (b"name=Soup", "application/x-www-form-urlencoded", 415),
        (b"<recipe/>", "application/xml", 415),
        (b"", "application/json", 400),
    ],
)
def test_malformed_bodies(
    client: FlaskClient,
    auth_headers: dict[str, str],
    body: bytes,
    content_type: str,
    status: int,
) -> None:
    response = client.post(
        "/api/v1/recipes", data=body, content_type=content_type, headers=auth_headers
    )
    assert response.status_code == status
    assert response.content_type == PROBLEM
    assert response.json["detail"]
