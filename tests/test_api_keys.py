"""API keys: created and shown once, stored hashed, scoped, expiring, recorded when used,
revocable, refused in the URL and where only a login will do."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from conftest import RECIPE, assert_problem
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from potluck.domain.database import db
from potluck.domain.models import ApiKey, utcnow

LISTED_FIELDS = {"id", "name", "scope", "prefix", "created_at", "expires_at", "last_used_at"}


def key_header(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def make_key(client: FlaskClient, auth_headers: dict[str, str]) -> Any:
    def make_key(scope: str = "read", **fields: Any) -> dict[str, Any]:
        body = {"name": f"{scope} script", "scope": scope, **fields}
        response = client.post("/api/v1/me/api-keys", json=body, headers=auth_headers)
        assert response.status_code == 201, response.get_data(as_text=True)
        created: dict[str, Any] = response.json
        return created

    return make_key


def test_a_key_is_shown_once_and_stored_hashed(
    app: Flask, client: FlaskClient, auth_headers: dict[str, str], make_key: Any
) -> None:
    created = make_key("write", name="  backup job ")
    assert set(created) == LISTED_FIELDS | {"key"}
    assert created["key"].startswith("pk_")
    assert len(created["key"]) > 40
    assert created["prefix"] == created["key"][:10]
    assert created["name"] == "backup job"
    assert created["scope"] == "write"
    assert created["expires_at"] is None
    assert created["last_used_at"] is None

    listed = client.get("/api/v1/me/api-keys", headers=auth_headers)
    assert listed.status_code == 200
    assert "no-store" in listed.headers["Cache-Control"]
    assert [set(k) for k in listed.json] == [LISTED_FIELDS]
    assert created["key"] not in listed.get_data(as_text=True)
    one = client.get(f"/api/v1/me/api-keys/{created['id']}", headers=auth_headers)
    assert one.json == listed.json[0]

    with app.app_context():
        stored = db.session.scalars(select(ApiKey)).one()
        assert stored.key_hash == hashlib.sha256(created["key"].encode()).hexdigest()
        assert created["key"] not in (stored.key_hash, stored.prefix, stored.name)


def test_a_key_authenticates_and_its_use_is_recorded(
    client: FlaskClient, auth_headers: dict[str, str], make_key: Any
) -> None:
    created = make_key("read")
    me = client.get("/api/v1/me", headers=key_header(created["key"]))
    assert me.status_code == 200
    assert me.json["username"] == "alice"
    used = client.get(f"/api/v1/me/api-keys/{created['id']}", headers=auth_headers).json
    assert used["last_used_at"] is not None
    assert used["last_used_at"] >= created["created_at"]


def test_a_read_key_cannot_change_anything(
    client: FlaskClient, auth_headers: dict[str, str], make_key: Any, make_recipe: Any
) -> None:
    recipe = make_recipe(auth_headers, publish=False)
    read = key_header(make_key("read")["key"])
    assert client.get(f"/api/v1/recipes/{recipe['id']}", headers=read).status_code == 200
    attempts = [
        client.post("/api/v1/recipes", json=RECIPE, headers=read),
        client.patch(f"/api/v1/recipes/{recipe['id']}", json={"name": "X"}, headers=read),
        client.put(f"/api/v1/recipes/{recipe['id']}", json=RECIPE, headers=read),
        client.delete(f"/api/v1/recipes/{recipe['id']}", headers=read),
        client.put(f"/api/v1/recipes/{recipe['id']}/publish", headers=read),
        client.patch("/api/v1/me", json={"bio": "changed"}, headers=read),
    ]
    for response in attempts:
        assert "write scope" in assert_problem(response, 403)["detail"]
    after = client.get(f"/api/v1/recipes/{recipe['id']}", headers=auth_headers).json
    assert after["name"] == recipe["name"]
    assert after["is_publish"] is False
    assert client.get("/api/v1/me", headers=auth_headers).json["bio"] == ""


def test_a_write_key_can_write(client: FlaskClient, make_key: Any) -> None:
    write = key_header(make_key("write")["key"])
    created = client.post("/api/v1/recipes", json=RECIPE, headers=write)
    assert created.status_code == 201
    assert created.json["author"]["username"] == "alice"
    published = client.put(f"/api/v1/recipes/{created.json['id']}/publish", headers=write)
    assert published.status_code == 204


def test_a_revoked_key_stops_working(
    client: FlaskClient, auth_headers: dict[str, str], make_key: Any
) -> None:
    created = make_key()
    assert client.get("/api/v1/me", headers=key_header(created["key"])).status_code == 200
    revoked = client.delete(f"/api/v1/me/api-keys/{created['id']}", headers=auth_headers)
    assert revoked.status_code == 204
    refused = client.get("/api/v1/me", headers=key_header(created["key"]))
    assert "revoked" in assert_problem(refused, 401)["detail"]
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/api/v1/me/api-keys", headers=auth_headers).json == []
    again = client.delete(f"/api/v1/me/api-keys/{created['id']}", headers=auth_headers)
    assert_problem(again, 404)


def test_an_expired_key_is_refused(client: FlaskClient, make_key: Any) -> None:
    expires = (utcnow() + timedelta(days=1)).isoformat()
    created = make_key(expires_at=expires)
    assert created["expires_at"] is not None
    assert client.get("/api/v1/me", headers=key_header(created["key"])).status_code == 200
    with time_machine.travel(utcnow() + timedelta(days=1, seconds=1)):
        refused = client.get("/api/v1/me", headers=key_header(created["key"]))
    assert "expired" in assert_problem(refused, 401)["detail"]


@pytest.mark.parametrize("name", ["key", "api_key"])
def test_a_key_in_the_url_is_refused(client: FlaskClient, make_key: Any, name: str) -> None:
    secret = make_key()["key"]
    for url in (f"/api/v1/me?{name}={secret}", f"/api/v1/recipes?{name}={secret}"):
        response = client.get(url)
        body = assert_problem(response, 401)
        assert "Authorization: Bearer" in body["detail"]
        assert "header" in body["detail"]
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    # Even next to a valid header: the key has leaked into a URL either way.
    assert_problem(client.get(f"/api/v1/me?{name}={secret}", headers=key_header(secret)), 401)


@pytest.mark.parametrize("secret", ["pk_", "pk_unknown", "pk_" + "a" * 43])
def test_unknown_keys_are_401(client: FlaskClient, user: dict[str, Any], secret: str) -> None:
    response = client.get("/api/v1/me", headers=key_header(secret))
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_keys_cannot_manage_keys_or_sessions(
    client: FlaskClient, auth_headers: dict[str, str], make_key: Any
) -> None:
    write = key_header(make_key("write")["key"])
    for response in (
        client.get("/api/v1/me/api-keys", headers=write),
        client.post("/api/v1/me/api-keys", json={"name": "more"}, headers=write),
        client.delete("/api/v1/tokens", headers=write),
        client.post("/api/v1/tokens/refresh", headers=write),
        client.put(
            "/api/v1/me/password",
            json={"current_password": "x", "new_password": "y" * 10},
            headers=write,
        ),
    ):
        assert "log in" in assert_problem(response, 401)["detail"]
    assert len(client.get("/api/v1/me/api-keys", headers=auth_headers).json) == 1


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "x" * 81},
        {"name": "ok", "scope": "admin"},
        {"name": "ok", "expires_at": "2000-01-01T00:00:00+00:00"},
        {"name": "ok", "expires_at": "2999-01-01T00:00:00"},  # no time zone
        {"name": "ok", "id": 5},
        {"name": "ok", "user_id": 2},
        {"name": "ok", "key_hash": "0" * 64},
    ],
)
def test_bad_key_requests_are_400(
    client: FlaskClient, auth_headers: dict[str, str], body: dict[str, Any]
) -> None:
    response = client.post("/api/v1/me/api-keys", json=body, headers=auth_headers)
    assert assert_problem(response, 400)["errors"]
    assert client.get("/api/v1/me/api-keys", headers=auth_headers).json == []


def test_nobody_sees_or_revokes_another_users_keys(
    client: FlaskClient, make_key: Any, other_headers: dict[str, str]
) -> None:
    created = make_key()
    assert client.get("/api/v1/me/api-keys", headers=other_headers).json == []
    assert_problem(client.get(f"/api/v1/me/api-keys/{created['id']}", headers=other_headers), 404)
    deleted = client.delete(f"/api/v1/me/api-keys/{created['id']}", headers=other_headers)
    assert_problem(deleted, 404)
    assert client.get("/api/v1/me", headers=key_header(created["key"])).status_code == 200


def test_a_key_of_a_disabled_account_is_refused(
    app: Flask, client: FlaskClient, make_key: Any
) -> None:
    from potluck.domain.models import User

    secret = make_key()["key"]
    with app.app_context():
        db.session.scalars(select(User)).one().is_active = False
        db.session.commit()
    assert (
        "disabled"
        in assert_problem(client.get("/api/v1/me", headers=key_header(secret)), 401)["detail"]
    )
