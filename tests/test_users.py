"""Users: registration, uniqueness, input validation, public profiles, /me and the root aliases."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conftest import PASSWORD, PROBLEM, assert_problem, confirm_by_mail
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select, update

from potluck.domain.database import db
from potluck.domain.models import User

NEW_USER = {"username": "carol", "email": "Carol@Example.COM", "password": PASSWORD}
PUBLIC_FIELDS = {"id", "username", "display_name", "bio", "avatar_url", "avatar", "created_at"}
PRIVATE_FIELDS = PUBLIC_FIELDS | {"email", "updated_at"}


def count_users(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(User)) or 0


# Registration


def test_registration_creates_an_account(client: FlaskClient, app: Flask) -> None:
    response = client.post("/api/v1/users", json={**NEW_USER, "display_name": "Carol C."})
    assert response.status_code == 201
    assert response.content_type == "application/json"
    assert response.headers["Location"] == "/api/v1/users/carol"
    body = response.json
    assert set(body) == PRIVATE_FIELDS
    assert body["username"] == "carol"
    assert body["email"] == "carol@example.com"
    assert body["display_name"] == "Carol C."
    assert body["bio"] == ""
    assert body["avatar_url"] is None
    assert body["created_at"].endswith("+00:00")
    assert isinstance(body["id"], int)
    assert PASSWORD not in response.get_data(as_text=True)
    assert count_users(app) == 1

    profile = client.get(response.headers["Location"])
    assert profile.status_code == 200
    assert profile.json["id"] == body["id"]


def test_registration_keeps_the_username_case(client: FlaskClient) -> None:
    response = client.post("/api/v1/users", json={**NEW_USER, "username": "CarolK"})
    assert response.status_code == 201
    assert response.json["username"] == "CarolK"
    assert response.headers["Location"] == "/api/v1/users/CarolK"


def test_registered_password_works_for_login_once_confirmed(client: FlaskClient) -> None:
    assert client.post("/api/v1/users", json=NEW_USER).status_code == 201
    credentials = {"email": "carol@example.com", "password": PASSWORD}
    unconfirmed = client.post("/api/v1/tokens", json=credentials)
    body = assert_problem(unconfirmed, 403)
    assert "Confirm your email address" in body["detail"]
    assert "/api/v1/users/activation-email" in body["detail"]
    assert "access_token" not in body
    confirm_by_mail(client, "carol@example.com")
    login = client.post("/api/v1/tokens", json=credentials)
    assert login.status_code == 200
    wrong = client.post("/api/v1/tokens", json={"username": "carol", "password": "x" * 12})
    assert wrong.status_code == 401


@pytest.mark.parametrize("username", ["alice", "Alice", "ALICE", " alice "])
def test_duplicate_username_is_409_whatever_the_case(
    client: FlaskClient, app: Flask, user: dict[str, Any], username: str
) -> None:
    response = client.post(
        "/api/v1/users",
        json={"username": username, "email": "other@example.com", "password": PASSWORD},
    )
    body = assert_problem(response, 409)
    assert list(body["errors"]) == ["username"]
    assert "Location" not in response.headers
    assert count_users(app) == 1
    assert client.get("/api/v1/users/alice").json["id"] == user["id"]


@pytest.mark.parametrize("email", ["alice@example.com", "ALICE@Example.com"])
def test_duplicate_email_is_409_whatever_the_case(
    client: FlaskClient, app: Flask, user: dict[str, Any], email: str
) -> None:
    response = client.post(
        "/api/v1/users", json={"username": "bob", "email": email, "password": PASSWORD}
    )
    body = assert_problem(response, 409)
    assert list(body["errors"]) == ["email"]
    assert count_users(app) == 1
    assert_problem(client.get("/api/v1/users/bob"), 404)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("username", "ab"),
        ("username", "a" * 31),
        ("username", "al ice"),
        ("username", ".alice"),
        ("username", "_alice"),
        ("username", "-alice"),
        ("username", "álice"),
        ("username", "ａｌｉｃｅ"),  # fullwidth letters  # noqa: RUF001
        ("username", "alice™"),
        ("username", "ali/ce"),
        ("username", "ali@ce"),
        ("username", "alice\x00"),
        ("username", ""),
        ("username", None),
        ("username", 42),
        ("username", ["alice"]),
        ("email", "not-an-email"),
        ("email", "carol@"),
        ("email", "@example.com"),
        ("email", "carol @example.com"),
        ("email", "carol@example.com\x00"),
        ("email", "c" * 250 + "@example.com"),
        ("email", ""),
        ("email", None),
        ("email", 7),
        ("email", {"address": "carol@example.com"}),
        ("password", "short"),
        ("password", "x" * 7),
        ("password", "x" * 129),
        ("password", ""),
        ("password", None),
        ("password", 12345678),
        ("display_name", "x" * 81),
        ("display_name", "two\nlines"),
        ("display_name", "bell\x07"),
        ("display_name", 5),
        ("id", 7),
        ("is_active", False),
        ("password_hash", "$argon2id$v=19$m=1024,t=1,p=1$abc$def"),
        ("created_at", "2020-01-01T00:00:00Z"),
        ("role", "admin"),
    ],
)
def test_invalid_registrations_are_400_and_create_nothing(
    client: FlaskClient, app: Flask, field: str, value: Any
) -> None:
    response = client.post("/api/v1/users", json={**NEW_USER, field: value})
    body = assert_problem(response, 400)
    assert field in body["errors"]
    assert all(isinstance(m, str) and m for m in body["errors"][field])
    assert "Location" not in response.headers
    assert count_users(app) == 0


@pytest.mark.parametrize("field", ["username", "email", "password"])
def test_missing_required_fields_are_400(client: FlaskClient, app: Flask, field: str) -> None:
    body = {k: v for k, v in NEW_USER.items() if k != field}
    problem = assert_problem(client.post("/api/v1/users", json=body), 400)
    assert field in problem["errors"]
    assert count_users(app) == 0


def test_email_too_long_once_lowercased_is_400(client: FlaskClient, app: Flask) -> None:
    # 'İ'.lower() is two characters: the stored address must still fit in 254.
    email = "İ" * 130 + "@example.com"
    assert len(email) <= 254 < len(email.lower())
    response = client.post("/api/v1/users", json={**NEW_USER, "email": email})
    body = assert_problem(response, 400)
    assert "email" in body["errors"]
    assert count_users(app) == 0


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b'["carol"]', "application/json", 400),
        (b"null", "application/json", 400),
        (b"", "application/json", 400),
        (b"username=carol&password=x", "application/x-www-form-urlencoded", 415),
    ],
)
def test_malformed_registration_bodies(
    client: FlaskClient, app: Flask, data: bytes, content_type: str, status: int
) -> None:
    response = client.post("/api/v1/users", data=data, content_type=content_type)
    assert_problem(response, status)
    assert count_users(app) == 0


@settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=50, deadline=None
)
@given(username=st.text(max_size=40))
def test_any_username_gets_a_clean_answer(client: FlaskClient, username: str) -> None:
    response = client.post(
        "/api/v1/users",
        json={"username": username, "email": "fuzz@example.com", "password": PASSWORD},
    )
    assert response.status_code in {201, 400, 409}
    if response.status_code == 201:
        # Only the registered, cleaned-up name is accepted; undo it so the email stays free.
        assert response.json["username"] == username.strip()
        with client.application.app_context():
            db.session.execute(delete(User).where(User.id == response.json["id"]))
            db.session.commit()
    else:
        assert response.content_type == PROBLEM
        assert "username" in response.json["errors"]


# Public profiles


def test_public_profile_is_found_whatever_the_case(
    client: FlaskClient, register: Callable[..., dict[str, Any]]
) -> None:
    created = register("Dora")
    for name in ("Dora", "dora", "DORA"):
        response = client.get(f"/api/v1/users/{name}")
        assert response.status_code == 200
        assert response.content_type == "application/json"
        assert set(response.json) == PUBLIC_FIELDS
        assert response.json["id"] == created["id"]
        assert response.json["username"] == "Dora"
        assert "email" not in response.json
        assert "dora@example.com" not in response.get_data(as_text=True)


def test_unknown_user_is_a_404_problem(client: FlaskClient, user: dict[str, Any]) -> None:
    body = assert_problem(client.get("/api/v1/users/nobody"), 404)
    assert "nobody" in body["detail"]


@pytest.mark.parametrize("name", ["a%00b", "%00", "x" * 300, "%F0%9F%8D%B2", "..", "a%2Fb"])
def test_odd_usernames_in_the_path_are_404(
    client: FlaskClient, user: dict[str, Any], name: str
) -> None:
    assert_problem(client.get(f"/api/v1/users/{name}"), 404)


def test_disabled_user_has_no_public_profile(
    client: FlaskClient, app: Flask, user: dict[str, Any]
) -> None:
    with app.app_context():
        db.session.execute(update(User).where(User.id == user["id"]).values(is_active=False))
        db.session.commit()
    assert_problem(client.get("/api/v1/users/alice"), 404)


# The signed-in user


def test_me_needs_a_token(client: FlaskClient) -> None:
    response = client.get("/api/v1/me")
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    assert 'realm="potluck"' in response.headers["WWW-Authenticate"]


def test_me_shows_the_private_profile(
    client: FlaskClient, user: dict[str, Any], auth_headers: dict[str, str]
) -> None:
    response = client.get("/api/v1/me", headers=auth_headers)
    assert response.status_code == 200
    assert response.content_type == "application/json"
    assert set(response.json) == PRIVATE_FIELDS
    assert response.json["id"] == user["id"]
    assert response.json["email"] == "alice@example.com"
    assert "password_hash" not in response.json


def test_personal_data_is_not_stored_by_shared_caches(
    client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    for response in (
        client.post("/api/v1/users", json=NEW_USER),
        client.get("/api/v1/me", headers=auth_headers),
        client.patch("/api/v1/me", json={"bio": "hi"}, headers=auth_headers),
    ):
        assert response.status_code in {200, 201}
        cache_control = response.headers.get("Cache-Control", "")
        assert "private" in cache_control or "no-store" in cache_control


def test_patch_me_changes_the_profile(
    client: FlaskClient, user: dict[str, Any], auth_headers: dict[str, str]
) -> None:
    changes = {"display_name": "  Alice Liddell ", "bio": "Soups.\nAnd stews."}
    response = client.patch("/api/v1/me", json=changes, headers=auth_headers)
    assert response.status_code == 200
    assert response.json["display_name"] == "Alice Liddell"
    assert response.json["bio"] == "Soups.\nAnd stews."
    assert response.json["email"] == "alice@example.com"
    assert response.json["username"] == "alice"

    me = client.get("/api/v1/me", headers=auth_headers).json
    assert me["display_name"] == "Alice Liddell"
    assert me["bio"] == "Soups.\nAnd stews."
    public = client.get("/api/v1/users/alice").json
    assert public["display_name"] == "Alice Liddell"
    assert public["bio"] == "Soups.\nAnd stews."

    only_bio = client.patch("/api/v1/me", json={"bio": ""}, headers=auth_headers)
    assert only_bio.status_code == 200
    assert only_bio.json["bio"] == ""
    assert only_bio.json["display_name"] == "Alice Liddell"  # PATCH leaves the rest alone


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "new@example.com"),
        ("username", "mallory"),
        ("id", 99),
        ("password", "a brand new password"),
        ("password_hash", "x"),
        ("is_active", False),
        ("created_at", "2020-01-01T00:00:00Z"),
        ("display_name", "x" * 81),
        ("display_name", "two\nlines"),
        ("display_name", "nul\x00"),
        ("display_name", "esc\x1b[31m"),
        ("display_name", 12),
        ("display_name", None),
        ("bio", "x" * 501),
        ("bio", "bell\x07"),
        ("bio", "nul\x00byte"),
        ("bio", "del\x7f"),
        ("bio", ["a", "list"]),
    ],
)
def test_patch_me_refuses_bad_fields(
    client: FlaskClient, user: dict[str, Any], auth_headers: dict[str, str], field: str, value: Any
) -> None:
    response = client.patch("/api/v1/me", json={"bio": "kept?", field: value}, headers=auth_headers)
    body = assert_problem(response, 400)
    assert field in body["errors"]
    me = client.get("/api/v1/me", headers=auth_headers).json
    assert me == {**user, "updated_at": me["updated_at"]}
    assert me["bio"] == ""
    assert me["email"] == "alice@example.com"
    assert me["username"] == "alice"


def test_patch_me_needs_a_token(client: FlaskClient, user: dict[str, Any]) -> None:
    response = client.patch("/api/v1/me", json={"bio": "hacked"})
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/api/v1/users/alice").json["bio"] == ""


# The root aliases share the handlers


def test_root_alias_registration(client: FlaskClient, app: Flask) -> None:
    response = client.post("/users", json=NEW_USER)
    assert response.status_code == 201
    assert response.headers["Location"] == "/users/carol"
    assert response.json["email"] == "carol@example.com"
    assert "password" not in response.json

    alias = client.get(response.headers["Location"])
    canonical = client.get("/api/v1/users/CAROL")
    assert alias.status_code == canonical.status_code == 200
    assert alias.json == canonical.json
    assert alias.json["id"] == response.json["id"]

    duplicate = client.post("/users", json={**NEW_USER, "username": "Carol", "email": "c@x.org"})
    assert list(assert_problem(duplicate, 409)["errors"]) == ["username"]
    invalid = client.post("/users", json={**NEW_USER, "username": ".carol"})
    assert "username" in assert_problem(invalid, 400)["errors"]
    assert count_users(app) == 1


def test_root_alias_profiles_and_me(
    client: FlaskClient, user: dict[str, Any], auth_headers: dict[str, str]
) -> None:
    assert client.get("/users/ALICE").json == client.get("/api/v1/users/alice").json
    assert_problem(client.get("/users/nobody"), 404)

    anonymous = client.get("/me")
    assert_problem(anonymous, 401)
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")

    me = client.get("/me", headers=auth_headers)
    assert me.status_code == 200
    assert me.json == client.get("/api/v1/me", headers=auth_headers).json
    assert me.json["email"] == "alice@example.com"

    patched = client.patch("/me", json={"display_name": "Al"}, headers=auth_headers)
    assert patched.status_code == 200
    assert client.get("/api/v1/me", headers=auth_headers).json["display_name"] == "Al"
    assert (
        "email"
        in assert_problem(
            client.patch("/me", json={"email": "x@example.com"}, headers=auth_headers), 400
        )["errors"]
    )
