"""Authorization, endpoint by endpoint: every operation is classified, nobody reads another's
drafts or email, nobody changes another's recipe or profile (with a token or an API key), and
fields a client may not set are rejected, not applied."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conftest import PROBLEM, RECIPE
from flask import Flask
from flask.testing import FlaskClient

# Who may call each operation. A new endpoint fails the first test until it is classified here
# and its rule is tested.
ACCESS = {
    ("POST", "/api/v1/users"): "anyone",
    ("GET", "/api/v1/users/{username}"): "anyone: public fields only",
    ("GET", "/api/v1/me"): "the caller, about themself",
    ("PATCH", "/api/v1/me"): "the caller, about themself",
    ("POST", "/api/v1/users/activate"): "whoever holds the mailed token",
    ("GET", "/api/v1/users/activate/{token}"): "whoever holds the mailed token",
    ("POST", "/api/v1/users/activation-email"): "anyone: same answer for every address",
    ("POST", "/api/v1/users/password-reset"): "anyone: same answer for every address",
    ("POST", "/api/v1/users/password-reset/complete"): "whoever holds the mailed code",
    ("PUT", "/api/v1/me/password"): "the caller with their current password, no API key",
    ("POST", "/api/v1/tokens"): "whoever has the credentials",
    ("DELETE", "/api/v1/tokens"): "the caller, for their own tokens",
    ("POST", "/api/v1/tokens/refresh"): "the holder of a live refresh token",
    ("GET", "/api/v1/me/api-keys"): "the caller, their own keys, no API key",
    ("POST", "/api/v1/me/api-keys"): "the caller, no API key",
    ("GET", "/api/v1/me/api-keys/{key_id}"): "the key's owner (404 for others)",
    ("DELETE", "/api/v1/me/api-keys/{key_id}"): "the key's owner (404 for others)",
    ("GET", "/api/v1/recipes"): "anyone: published recipes only",
    ("POST", "/api/v1/recipes"): "a signed-in user, as the author",
    ("POST", "/api/v1/recipes/import"): "a signed-in user, as the author (test_recipe_import)",
    ("GET", "/api/v1/recipes/{recipe_id}"): "anyone if published, else the author only",
    ("PUT", "/api/v1/recipes/{recipe_id}"): "the author",
    ("PATCH", "/api/v1/recipes/{recipe_id}"): "the author",
    ("DELETE", "/api/v1/recipes/{recipe_id}"): "the author",
    ("PUT", "/api/v1/recipes/{recipe_id}/publish"): "the author",
    ("DELETE", "/api/v1/recipes/{recipe_id}/publish"): "the author",
    ("GET", "/api/v1/users/{username}/recipes"): "anyone; drafts for the author only",
    ("GET", "/api/v1/tags"): "anyone: counts of published recipes only (test_tags.py)",
    ("GET", "/api/v1/recipes/{recipe_id}/cover"): "anyone if published, else the author only",
    ("PUT", "/api/v1/recipes/{recipe_id}/cover"): "the author (tested in test_images.py)",
    ("DELETE", "/api/v1/recipes/{recipe_id}/cover"): "the author",
    ("GET", "/api/v1/me/avatar"): "the caller, about themself",
    ("PUT", "/api/v1/me/avatar"): "the caller, about themself",
    ("DELETE", "/api/v1/me/avatar"): "the caller, about themself",
}

AUTHOR_ONLY = [
    ("put", "", RECIPE),
    ("patch", "", {"name": "Mine now"}),
    ("delete", "", None),
    ("put", "/publish", None),
    ("delete", "/publish", None),
    ("delete", "/cover", None),
]


def test_every_operation_is_classified(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").json
    operations = {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }
    assert operations == set(ACCESS)


@pytest.fixture
def bob_credentials(client: FlaskClient, other_headers: dict[str, str]) -> list[dict[str, str]]:
    """Bob's access token, and a write-scoped API key of his."""
    key = client.post(
        "/api/v1/me/api-keys", json={"name": "bob", "scope": "write"}, headers=other_headers
    ).json["key"]
    return [other_headers, {"Authorization": f"Bearer {key}"}]


def _attempt(client: FlaskClient, method: str, url: str, body: Any, headers: Any) -> Any:
    return client.open(url, method=method.upper(), json=body, headers=headers)


def test_nobody_reads_or_changes_another_users_draft(
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_recipe: Callable[..., dict[str, Any]],
    bob_credentials: list[dict[str, str]],
) -> None:
    draft = make_recipe(auth_headers, publish=False)
    url = f"/api/v1/recipes/{draft['id']}"
    for headers in [{}, *bob_credentials]:
        read = client.get(url, headers=headers)
        assert read.status_code == 404
        assert read.content_type == PROBLEM
        listed = client.get("/api/v1/users/alice/recipes", headers=headers).json
        assert listed["total"] == 0
        for method, suffix, body in AUTHOR_ONLY:
            response = _attempt(client, method, url + suffix, body, headers)
            assert response.status_code == (404 if headers else 401), (method, suffix)
            assert response.content_type == PROBLEM
    mine = client.get(url, headers=auth_headers).json
    assert mine == client.get(url, headers=auth_headers).json
    assert mine["name"] == draft["name"]
    assert mine["is_publish"] is False


def test_nobody_changes_another_users_published_recipe(
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_recipe: Callable[..., dict[str, Any]],
    bob_credentials: list[dict[str, str]],
) -> None:
    recipe = make_recipe(auth_headers)
    url = f"/api/v1/recipes/{recipe['id']}"
    before = client.get(url).json
    for headers in bob_credentials:
        for method, suffix, body in AUTHOR_ONLY:
            response = _attempt(client, method, url + suffix, body, headers)
            assert response.status_code == 403, (method, suffix)
            assert "author" in response.json["detail"]
    assert client.get(url).json == before


def test_only_the_author_lists_their_drafts(
    client: FlaskClient, auth_headers: dict[str, str], bob_credentials: list[dict[str, str]]
) -> None:
    for headers in bob_credentials:
        for visibility in ("all", "private"):
            response = client.get(
                f"/api/v1/users/alice/recipes?visibility={visibility}", headers=headers
            )
            assert response.status_code == 403
    own = client.get("/api/v1/users/alice/recipes?visibility=all", headers=auth_headers)
    assert own.status_code == 200


def test_nobody_sees_another_users_email(
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_recipe: Callable[..., dict[str, Any]],
    bob_credentials: list[dict[str, str]],
) -> None:
    recipe = make_recipe(auth_headers)
    for headers in [{}, *bob_credentials]:
        for url in (
            "/api/v1/users/alice",
            "/users/ALICE",
            f"/api/v1/recipes/{recipe['id']}",
            "/api/v1/recipes",
            "/api/v1/recipes?q=soup",
            "/api/v1/users/alice/recipes",
        ):
            response = client.get(url, headers=headers)
            assert response.status_code == 200, url
            assert "alice@example.com" not in response.get_data(as_text=True), url
        if headers:
            assert client.get("/api/v1/me", headers=headers).json["email"] == "bob@example.com"


@pytest.mark.parametrize(
    "changes",
    [
        {"id": 1},
        {"username": "alice"},
        {"email": "alice@example.com"},
        {"is_active": False},
        {"confirmed_at": None},
        {"session_generation": 0},
    ],
)
def test_nobody_changes_another_users_profile(
    client: FlaskClient,
    user: dict[str, Any],
    auth_headers: dict[str, str],
    bob_credentials: list[dict[str, str]],
    changes: dict[str, Any],
) -> None:
    alice_before = client.get("/api/v1/me", headers=auth_headers).json
    for headers in bob_credentials:
        response = client.patch("/api/v1/me", json={**changes, "bio": "x"}, headers=headers)
        assert response.status_code == 400
        assert set(changes) <= set(response.json["errors"])
    assert client.get("/api/v1/me", headers=auth_headers).json == alice_before
    assert client.get("/api/v1/me", headers=bob_credentials[0]).json["bio"] == ""


@pytest.mark.parametrize("field", ["id", "author_id", "is_active", "author", "version"])
def test_fields_a_client_may_not_set_are_rejected_in_recipes(
    client: FlaskClient,
    auth_headers: dict[str, str],
    other_headers: dict[str, str],
    make_recipe: Callable[..., dict[str, Any]],
    field: str,
) -> None:
    bob_id = client.get("/api/v1/me", headers=other_headers).json["id"]
    value: Any = {"id": 999, "author_id": bob_id, "is_active": False}.get(field, {"id": bob_id})
    created = client.post("/api/v1/recipes", json={**RECIPE, field: value}, headers=auth_headers)
    assert created.status_code == 400
    assert field in created.json["errors"]
    recipe = make_recipe(auth_headers)
    url = f"/api/v1/recipes/{recipe['id']}"
    for method, body in (("patch", {field: value}), ("put", {**RECIPE, field: value})):
        response = _attempt(client, method, url, body, auth_headers)
        assert response.status_code == 400
        assert field in response.json["errors"]
    after = client.get(url).json
    assert after["id"] == recipe["id"]
    assert after["author"]["username"] == "alice"
    listed = client.get("/api/v1/users/bob/recipes").json
    assert listed["total"] == 0


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/users", {"username": "eve", "email": "eve@example.com", "password": "x" * 10}),
        ("/api/v1/users/activation-email", {"email": "eve@example.com"}),
        ("/api/v1/users/password-reset", {"email": "eve@example.com"}),
        ("/api/v1/users/activate", {"token": "x"}),
    ],
)
@pytest.mark.parametrize("field", ["id", "is_active", "confirmed_at", "author_id"])
def test_fields_a_client_may_not_set_are_rejected_in_accounts(
    client: FlaskClient, path: str, body: dict[str, Any], field: str
) -> None:
    response = client.post(path, json={**body, field: True})
    assert response.status_code == 400
    assert field in response.json["errors"]
    assert client.get("/api/v1/users/eve").status_code == 404


def test_each_request_is_its_own_caller_even_under_one_app_context(
    app: Flask,
    client: FlaskClient,
    auth_headers: dict[str, str],
    other_headers: dict[str, str],
) -> None:
    # The caller is checked once a request and kept for it; a held app context (a test's, a
    # command's) must not carry one request's caller into the next.
    with app.app_context():
        assert client.get("/api/v1/me", headers=auth_headers).json["username"] == "alice"
        assert client.get("/api/v1/me", headers=other_headers).json["username"] == "bob"
        assert client.get("/api/v1/me").status_code == 401
