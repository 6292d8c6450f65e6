"""Tokens: logging in, refresh with rotation, revocation, forged tokens and the book aliases."""

from __future__ import annotations

import base64
import json
import uuid
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from conftest import PASSWORD, PROBLEM, TEST_SECRET, assert_problem
from conftest import test_environ as environ_for
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from jwt.warnings import InsecureKeyLengthWarning
from sqlalchemy import delete, update

from potluck import create_app
from potluck.domain.database import db
from potluck.domain.models import RevokedToken, User

TOKEN_FIELDS = {"access_token", "refresh_token", "token_type", "expires_in"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def basic(username: str, password: str) -> dict[str, str]:
    encoded = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


def assert_refused(response: Any) -> dict[str, Any]:
    """A 401 bearer challenge in problem+json."""
    body = assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    assert 'realm="potluck"' in response.headers["WWW-Authenticate"]
    return body


def assert_token_pair(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type == "application/json"
    body: dict[str, Any] = response.json
    assert set(body) == TOKEN_FIELDS
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 15 * 60
    assert body["access_token"] != body["refresh_token"]
    return body


def claims(token: str) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(token, TEST_SECRET, algorithms=["HS256"])
    return decoded


@pytest.fixture
def tokens(client: FlaskClient, user: dict[str, Any]) -> dict[str, Any]:
    """A fresh token pair for alice."""
    return assert_token_pair(
        client.post("/api/v1/tokens", json={"username": "alice", "password": PASSWORD})
    )


# Logging in


@pytest.mark.parametrize(
    "credentials",
    [
        {"username": "alice"},
        {"username": "ALICE"},
        {"username": " Alice "},
        {"email": "alice@example.com"},
        {"email": "Alice@Example.COM"},
    ],
)
def test_login_with_json(
    client: FlaskClient, user: dict[str, Any], credentials: dict[str, str]
) -> None:
    response = client.post("/api/v1/tokens", json={**credentials, "password": PASSWORD})
    body = assert_token_pair(response)
    access, refresh = claims(body["access_token"]), claims(body["refresh_token"])
    assert access["sub"] == refresh["sub"] == str(user["id"])
    assert access["type"] == "access"
    assert refresh["type"] == "refresh"
    assert access["jti"] != refresh["jti"]
    assert access["exp"] - access["iat"] == 15 * 60
    me = client.get("/api/v1/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.json["id"] == user["id"]
    assert me.json["email"] == "alice@example.com"


@pytest.mark.parametrize("login", ["alice", "ALICE", "alice@example.com", "ALICE@example.com"])
def test_login_with_http_basic(client: FlaskClient, user: dict[str, Any], login: str) -> None:
    body = assert_token_pair(client.post("/api/v1/tokens", headers=basic(login, PASSWORD)))
    assert claims(body["access_token"])["sub"] == str(user["id"])
    assert client.get("/api/v1/me", headers=bearer(body["access_token"])).status_code == 200


def test_token_responses_are_not_cacheable(client: FlaskClient, tokens: dict[str, Any]) -> None:
    # RFC 6749 section 5.1: a response carrying tokens is sent with Cache-Control: no-store.
    login = client.post("/api/v1/tokens", json={"username": "alice", "password": PASSWORD})
    refreshed = client.post("/api/v1/tokens/refresh", headers=bearer(tokens["refresh_token"]))
    for response in (login, refreshed):
        assert response.status_code == 200
        assert "no-store" in response.headers.get("Cache-Control", "")


def test_wrong_password_and_unknown_user_get_the_same_answer(
    client: FlaskClient, user: dict[str, Any]
) -> None:
    answers = [
        client.post("/api/v1/tokens", json={"username": "alice", "password": "wrong password"}),
        client.post("/api/v1/tokens", json={"username": "nobody", "password": "wrong password"}),
        client.post("/api/v1/tokens", json={"username": "nobody", "password": PASSWORD}),
        client.post("/api/v1/tokens", json={"email": "no@example.com", "password": PASSWORD}),
        client.post("/api/v1/tokens", json={"email": "alice@example.com", "password": "nope"}),
        client.post("/api/v1/tokens", headers=basic("alice", "wrong password")),
        client.post("/api/v1/tokens", headers=basic("nobody", PASSWORD)),
    ]
    first = answers[0]
    body = assert_problem(first, 401)
    assert "access_token" not in body
    assert first.headers["WWW-Authenticate"]
    for response in answers[1:]:
        assert response.status_code == 401
        assert response.content_type == PROBLEM
        assert response.json == body
        assert response.headers["WWW-Authenticate"] == first.headers["WWW-Authenticate"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"json": {"username": "alice"}}, "password"),
        ({"json": {"email": "alice@example.com"}}, "password"),
        ({"json": {"password": PASSWORD}}, "email"),
        ({"json": {"username": "", "password": PASSWORD}}, "email"),
        ({"json": {}}, "password"),
        ({"json": {"username": "alice", "password": 12345678}}, "password"),
        ({"json": {"username": ["alice"], "password": PASSWORD}}, "username"),
        ({"json": {"username": "alice", "password": PASSWORD, "remember": True}}, "remember"),
        ({"json": {"username": "alice", "password": "x" * 1025}}, "password"),
        ({"json": ["alice", PASSWORD]}, None),
        ({"data": b"", "content_type": "application/json"}, None),
        ({"data": b"{broken", "content_type": "application/json"}, None),
        ({"data": b"username=alice&password=x", "content_type": "text/plain"}, None),
        (
            {
                "data": b"username=alice&password=x",
                "content_type": "application/x-www-form-urlencoded",
            },
            None,
        ),
        ({}, None),
    ],
)
def test_incomplete_credentials_are_400(
    client: FlaskClient, user: dict[str, Any], kwargs: dict[str, Any], field: str | None
) -> None:
    response = client.post("/api/v1/tokens", **kwargs)
    body = assert_problem(response, 400)
    assert "access_token" not in response.get_data(as_text=True)
    if field is not None:
        assert field in body["errors"]


@pytest.mark.parametrize(
    "credentials",
    [
        {"username": "ali\x00ce", "password": PASSWORD},
        {"email": "alice@example.com\x00", "password": PASSWORD},
        {"username": "alice", "password": "pass\x00word"},
        {"username": "\ud83c", "password": PASSWORD},  # a lone surrogate
        {"username": "x" * 254, "password": PASSWORD},
    ],
)
def test_odd_credentials_get_a_clean_4xx(
    client: FlaskClient, user: dict[str, Any], credentials: dict[str, str]
) -> None:
    body = json.dumps(credentials)  # escapes NUL and surrogates as \uXXXX
    response = client.post("/api/v1/tokens", data=body, content_type="application/json")
    assert 400 <= response.status_code < 500
    assert response.content_type == PROBLEM


def test_disabled_account_cannot_log_in(
    client: FlaskClient, app: Flask, user: dict[str, Any], tokens: dict[str, Any]
) -> None:
    with app.app_context():
        db.session.execute(update(User).where(User.id == user["id"]).values(is_active=False))
        db.session.commit()
    login = client.post("/api/v1/tokens", json={"username": "alice", "password": PASSWORD})
    assert_problem(login, 403)
    assert "access_token" not in login.json
    assert_refused(client.get("/api/v1/me", headers=bearer(tokens["access_token"])))
    assert_refused(client.post("/api/v1/tokens/refresh", headers=bearer(tokens["refresh_token"])))


# Access and refresh tokens are not interchangeable


def test_refresh_token_is_not_an_access_token(client: FlaskClient, tokens: dict[str, Any]) -> None:
    assert_refused(client.get("/api/v1/me", headers=bearer(tokens["refresh_token"])))
    assert_refused(
        client.patch("/api/v1/me", json={"bio": "x"}, headers=bearer(tokens["refresh_token"]))
    )
    assert_refused(client.delete("/api/v1/tokens", headers=bearer(tokens["refresh_token"])))
    assert client.get("/api/v1/me", headers=bearer(tokens["access_token"])).json["bio"] == ""


def test_access_token_cannot_refresh(client: FlaskClient, tokens: dict[str, Any]) -> None:
    response = client.post("/api/v1/tokens/refresh", headers=bearer(tokens["access_token"]))
    assert_refused(response)
    assert "access_token" not in response.json


def test_refresh_needs_a_token(client: FlaskClient) -> None:
    assert_refused(client.post("/api/v1/tokens/refresh"))


# Refresh rotates


def test_refresh_rotates_the_pair(
    client: FlaskClient, user: dict[str, Any], tokens: dict[str, Any]
) -> None:
    response = client.post("/api/v1/tokens/refresh", headers=bearer(tokens["refresh_token"]))
    fresh = assert_token_pair(response)
    assert fresh["access_token"] != tokens["access_token"]
    assert fresh["refresh_token"] != tokens["refresh_token"]
    assert claims(fresh["access_token"])["sub"] == str(user["id"])
    assert client.get("/api/v1/me", headers=bearer(fresh["access_token"])).status_code == 200

    again = assert_token_pair(
        client.post("/api/v1/tokens/refresh", headers=bearer(fresh["refresh_token"]))
    )
    assert client.get("/api/v1/me", headers=bearer(again["access_token"])).status_code == 200

    # Reusing a rotated refresh token is a sign of theft: every session of alice ends.
    replayed = client.post("/api/v1/tokens/refresh", headers=bearer(tokens["refresh_token"]))
    assert "already used" in assert_refused(replayed)["detail"]
    assert (
        "revoked"
        in assert_refused(client.get("/api/v1/me", headers=bearer(again["access_token"])))["detail"]
    )
    assert_refused(client.post("/api/v1/tokens/refresh", headers=bearer(again["refresh_token"])))


# Revocation


def test_logout_revokes_the_access_token(client: FlaskClient, tokens: dict[str, Any]) -> None:
    headers = bearer(tokens["access_token"])
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    response = client.delete("/api/v1/tokens", headers=headers)
    assert response.status_code == 204
    assert response.data == b""
    assert "revoked" in assert_refused(client.get("/api/v1/me", headers=headers))["detail"]
    assert_refused(client.delete("/api/v1/tokens", headers=headers))
    # Only the access token was named: the refresh token still works.
    refreshed = client.post("/api/v1/tokens/refresh", headers=bearer(tokens["refresh_token"]))
    assert_token_pair(refreshed)


def test_revocation_is_stored_in_the_database(
    client: FlaskClient,
    app: Flask,
    database_url: str,
    tmp_path: Path,
    tokens: dict[str, Any],
) -> None:
    revoked = tokens["access_token"]
    assert client.delete("/api/v1/tokens", headers=bearer(revoked)).status_code == 204
    with app.app_context():
        row = db.session.get(RevokedToken, claims(revoked)["jti"])
        assert row is not None
        assert row.expires_at == datetime.fromtimestamp(claims(revoked)["exp"], UTC)

    # Another instance of the app on the same database refuses the token as well.
    other = create_app(environ=environ_for(database_url, tmp_path / "other-instance"))
    try:
        other_client = other.test_client()
        assert (
            "revoked" in assert_refused(other_client.get("/me", headers=bearer(revoked)))["detail"]
        )
        login = other_client.post(
            "/api/v1/tokens", json={"username": "alice", "password": PASSWORD}
        )
        still_valid = assert_token_pair(login)["access_token"]
        assert other_client.get("/api/v1/me", headers=bearer(still_valid)).status_code == 200
    finally:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


def test_logout_can_revoke_the_refresh_token_too(
    client: FlaskClient, tokens: dict[str, Any]
) -> None:
    response = client.delete(
        "/api/v1/tokens",
        json={"refresh_token": tokens["refresh_token"]},
        headers=bearer(tokens["access_token"]),
    )
    assert response.status_code == 204
    assert_refused(client.get("/api/v1/me", headers=bearer(tokens["access_token"])))
    refused = client.post("/api/v1/tokens/refresh", headers=bearer(tokens["refresh_token"]))
    assert "revoked" in assert_refused(refused)["detail"]


@pytest.mark.parametrize("which", ["other user's refresh", "own access", "garbage", "forged"])
def test_logout_refuses_a_foreign_refresh_token(
    client: FlaskClient,
    tokens: dict[str, Any],
    register: Callable[..., dict[str, Any]],
    which: str,
) -> None:
    register("bob")
    bob = assert_token_pair(
        client.post("/api/v1/tokens", json={"username": "bob", "password": PASSWORD})
    )
    forged = jwt.encode(
        {**claims(tokens["refresh_token"]), "jti": str(uuid.uuid4())},
        "another-key-" + "y" * 52,
        algorithm="HS256",
    )
    refresh_token = {
        "other user's refresh": bob["refresh_token"],
        "own access": tokens["access_token"],
        "garbage": "not.a.token",
        "forged": forged,
    }[which]
    response = client.delete(
        "/api/v1/tokens",
        json={"refresh_token": refresh_token},
        headers=bearer(tokens["access_token"]),
    )
    body = assert_problem(response, 400)
    assert "refresh_token" in body["errors"]
    # Nothing was revoked: not alice's access token, not bob's refresh token.
    assert client.get("/api/v1/me", headers=bearer(tokens["access_token"])).status_code == 200
    assert_token_pair(client.post("/api/v1/tokens/refresh", headers=bearer(bob["refresh_token"])))


@pytest.mark.parametrize("body", [{"refresh_token": 5}, {"access_token": "x"}, ["x"]])
def test_logout_with_a_bad_body_is_400(
    client: FlaskClient, tokens: dict[str, Any], body: Any
) -> None:
    response = client.delete("/api/v1/tokens", json=body, headers=bearer(tokens["access_token"]))
    assert_problem(response, 400)
    assert client.get("/api/v1/me", headers=bearer(tokens["access_token"])).status_code == 200


def test_logout_needs_a_token(client: FlaskClient) -> None:
    assert_refused(client.delete("/api/v1/tokens"))


# Forged, expired and malformed tokens


def _b64url(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _payload(user_id: int, **changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "sub": str(user_id),
        "type": "access",
        "fresh": False,
        "jti": str(uuid.uuid4()),
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(minutes=15),
        **changes,
    }


def _forge(kind: str, user_id: int) -> str:
    past = datetime.now(UTC) - timedelta(hours=1)
    if kind == "wrong signature":
        return jwt.encode(_payload(user_id), "not-the-server-key-" + "z" * 48, algorithm="HS256")
    if kind == "alg none":
        payload = {
            key: int(value.timestamp()) if isinstance(value, datetime) else value
            for key, value in _payload(user_id).items()
        }
        return f"{_b64url({'alg': 'none', 'typ': 'JWT'})}.{_b64url(payload)}."
    if kind == "expired":
        expired = _payload(user_id, iat=past - timedelta(minutes=15), nbf=past, exp=past)
        return jwt.encode(expired, TEST_SECRET, algorithm="HS256")
    if kind == "not yet valid":
        future = datetime.now(UTC) + timedelta(hours=1)
        return jwt.encode(_payload(user_id, nbf=future), TEST_SECRET, algorithm="HS256")
    if kind == "other algorithm":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InsecureKeyLengthWarning)  # the test key is short
            return jwt.encode(_payload(user_id), TEST_SECRET, algorithm="HS512")
    if kind == "tampered payload":
        token = jwt.encode(_payload(user_id), TEST_SECRET, algorithm="HS256")
        header, _, signature = token.split(".")
        return f"{header}.{_b64url({**claims(token), 'sub': str(user_id + 1)})}.{signature}"
    if kind == "unknown user":
        return jwt.encode(_payload(user_id + 1000), TEST_SECRET, algorithm="HS256")
    raise AssertionError(kind)


FORGERIES = [
    "wrong signature",
    "alg none",
    "expired",
    "not yet valid",
    "other algorithm",
    "tampered payload",
    "unknown user",
]


@pytest.mark.parametrize("kind", FORGERIES)
def test_forged_tokens_are_refused(
    client: FlaskClient, user: dict[str, Any], tokens: dict[str, Any], kind: str
) -> None:
    token = _forge(kind, user["id"])
    body = assert_refused(client.get("/api/v1/me", headers=bearer(token)))
    assert (
        'error="invalid_token"'
        in client.get("/me", headers=bearer(token)).headers["WWW-Authenticate"]
    )
    assert "alice@example.com" not in json.dumps(body)
    if kind == "expired":
        assert "expired" in body["detail"]
    assert_refused(client.patch("/api/v1/me", json={"bio": "pwned"}, headers=bearer(token)))
    assert client.get("/api/v1/users/alice").json["bio"] == ""


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer",
        "Bearer ",
        "Bearer garbage",
        "Bearer a.b.c",
        "Bearer eyJhbGciOiJIUzI1NiJ9.e30.",
        "Bearer ....",
        "Bearer two tokens",
        "Bearer " + "x" * 4000,
        "Token abc",
        "Basic YWxpY2U6cGFzc3dvcmQ=",
        "",
    ],
)
def test_malformed_authorization_headers_are_401(
    client: FlaskClient, user: dict[str, Any], authorization: str
) -> None:
    response = client.get("/api/v1/me", headers={"Authorization": authorization})
    assert_refused(response)


def test_basic_credentials_do_not_open_me(client: FlaskClient, user: dict[str, Any]) -> None:
    response = client.get("/api/v1/me", headers=basic("alice", PASSWORD))
    assert_refused(response)
    assert "alice@example.com" not in response.get_data(as_text=True)


def test_bearer_scheme_name_is_case_insensitive(
    client: FlaskClient, tokens: dict[str, Any]
) -> None:
    # RFC 9110 section 11.1: the authentication scheme is a case-insensitive token.
    response = client.get(
        "/api/v1/me", headers={"Authorization": f"bearer {tokens['access_token']}"}
    )
    assert response.status_code == 200
    assert response.json["username"] == "alice"


def test_token_of_a_deleted_user_is_refused(
    client: FlaskClient, app: Flask, user: dict[str, Any], tokens: dict[str, Any]
) -> None:
    with app.app_context():
        db.session.execute(delete(User).where(User.id == user["id"]))
        db.session.commit()
    body = assert_refused(client.get("/api/v1/me", headers=bearer(tokens["access_token"])))
    assert "no longer exists" in body["detail"]
    assert_refused(client.post("/api/v1/tokens/refresh", headers=bearer(tokens["refresh_token"])))
    assert_refused(client.delete("/api/v1/tokens", headers=bearer(tokens["access_token"])))


@settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=50, deadline=None
)
@given(
    token=st.text(st.characters(max_codepoint=0xFF, exclude_categories=("Cc", "Cs")), max_size=300)
)
def test_any_bearer_text_is_a_clean_401(
    client: FlaskClient, user: dict[str, Any], token: str
) -> None:
    for response in (
        client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}),
        client.post("/api/v1/tokens/refresh", headers={"Authorization": f"Bearer {token}"}),
    ):
        assert response.status_code == 401
        assert response.content_type == PROBLEM
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


@settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=50, deadline=None
)
@given(login=st.text(max_size=60), password=st.text(max_size=60))
@example(login="\x00", password="x")  # PostgreSQL cannot even compare text with NUL
def test_any_credentials_get_a_clean_answer(
    client: FlaskClient, user: dict[str, Any], login: str, password: str
) -> None:
    response = client.post("/api/v1/tokens", json={"username": login, "password": password})
    assert response.status_code in {400, 401}
    assert response.content_type == PROBLEM


# Book-compatible aliases share the handlers


@pytest.fixture
def prefix() -> str:
    """The course's clients call /token, /refresh and /revoke at the root (DESIGN.md)."""
    return ""


@pytest.mark.parametrize("path", ["/api/v1/token", "/api/v1/refresh", "/api/v1/revoke"])
def test_book_aliases_live_only_at_the_root(client: FlaskClient, path: str) -> None:
    response = client.post(path, json={})
    assert response.status_code == 404
    assert response.content_type == PROBLEM


def test_book_token_alias(client: FlaskClient, user: dict[str, Any], prefix: str) -> None:
    body = assert_token_pair(
        client.post(f"{prefix}/token", json={"username": "alice", "password": PASSWORD})
    )
    assert claims(body["access_token"])["sub"] == str(user["id"])
    assert client.get("/api/v1/me", headers=bearer(body["access_token"])).status_code == 200
    assert_token_pair(client.post(f"{prefix}/token", headers=basic("alice", PASSWORD)))

    wrong = client.post(f"{prefix}/token", json={"username": "alice", "password": "nope nope"})
    canonical = client.post("/api/v1/tokens", json={"username": "alice", "password": "nope"})
    assert_problem(wrong, 401)
    assert wrong.json == canonical.json
    assert wrong.headers["WWW-Authenticate"] == canonical.headers["WWW-Authenticate"]
    assert (
        "password"
        in assert_problem(client.post(f"{prefix}/token", json={"username": "alice"}), 400)["errors"]
    )


def test_book_refresh_alias(client: FlaskClient, tokens: dict[str, Any], prefix: str) -> None:
    fresh = assert_token_pair(
        client.post(f"{prefix}/refresh", headers=bearer(tokens["refresh_token"]))
    )
    assert client.get("/api/v1/me", headers=bearer(fresh["access_token"])).status_code == 200
    assert_refused(client.post(f"{prefix}/refresh", headers=bearer(tokens["refresh_token"])))
    assert_refused(client.post(f"{prefix}/refresh", headers=bearer(fresh["access_token"])))
    assert_refused(client.post("/api/v1/tokens/refresh", headers=bearer(tokens["refresh_token"])))


@pytest.mark.parametrize("method", ["post", "delete"])
def test_book_revoke_alias(
    client: FlaskClient, tokens: dict[str, Any], prefix: str, method: str
) -> None:
    headers = bearer(tokens["access_token"])
    response = getattr(client, method)(
        f"{prefix}/revoke", json={"refresh_token": tokens["refresh_token"]}, headers=headers
    )
    assert response.status_code == 204
    assert response.data == b""
    assert "revoked" in assert_refused(client.get("/api/v1/me", headers=headers))["detail"]
    assert_refused(client.post("/api/v1/tokens/refresh", headers=bearer(tokens["refresh_token"])))
    assert_refused(getattr(client, method)(f"{prefix}/revoke", headers=headers))


def test_root_token_endpoints(client: FlaskClient, tokens: dict[str, Any]) -> None:
    login = client.post("/tokens", json={"email": "alice@example.com", "password": PASSWORD})
    pair = assert_token_pair(login)
    rotated = assert_token_pair(
        client.post("/tokens/refresh", headers=bearer(pair["refresh_token"]))
    )
    revoked = client.delete("/tokens", headers=bearer(rotated["access_token"]))
    assert revoked.status_code == 204
    assert_refused(client.get("/me", headers=bearer(rotated["access_token"])))
    assert client.get("/me", headers=bearer(tokens["access_token"])).status_code == 200
