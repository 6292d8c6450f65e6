"""Accounts: confirming by link or token, resending, password reset by mail in two steps,
and password change; each one single-use, expiring, and ending other sessions."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from conftest import PASSWORD, activation_path, assert_problem, outbox, submit
from flask import Flask
from flask.testing import FlaskClient

from potluck.domain.models import utcnow

NEW_PASSWORD = "a completely new passphrase"


def log_in(client: FlaskClient, password: str = PASSWORD, username: str = "alice") -> Any:
    return client.post("/api/v1/tokens", json={"username": username, "password": password})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def activation_token(app: Flask, email: str) -> str:
    return activation_path(outbox(app, email)[-1].text_body).rsplit("/", 1)[1]


def reset_code(app: Flask, email: str) -> str:
    mail = outbox(app, email)[-1]
    assert mail.subject == "Reset your Potluck password"
    match = re.search(r"valid once for \d+ minutes:\n\n(\S+)\n", mail.text_body)
    assert match, mail.text_body
    assert match.group(1) in mail.html_body
    return match.group(1)


@pytest.fixture
def carol(register: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """A registered account that has not been confirmed yet."""
    return register("carol", confirm=False)


# Confirmation


def test_unconfirmed_login_is_403_and_says_how_to_resend(
    client: FlaskClient, carol: dict[str, Any]
) -> None:
    body = assert_problem(log_in(client, username="carol"), 403)
    assert body["title"] == "Account not confirmed"
    assert "carol@example.com" in body["detail"]
    assert "POST {email} to /api/v1/users/activation-email" in body["detail"]
    wrong = log_in(client, password="not the password", username="carol")
    assert_problem(wrong, 401)  # the state shows only to the password's owner


def test_confirm_with_the_token_in_a_body(
    app: Flask, client: FlaskClient, carol: dict[str, Any]
) -> None:
    token = activation_token(app, "carol@example.com")
    response = client.post("/api/v1/users/activate", json={"token": token})
    assert response.status_code == 204
    assert response.data == b""
    assert log_in(client, username="carol").status_code == 200
    again = client.post("/api/v1/users/activate", json={"token": token})
    assert "already used" in assert_problem(again, 409)["detail"]


def test_the_link_shows_a_browser_a_button_that_confirms(
    app: Flask, client: FlaskClient, carol: dict[str, Any]
) -> None:
    # Mail scanners open links too: a browser is sent to the site's page, and only its
    # button (a POST) confirms.
    path = activation_path(outbox(app, "carol@example.com")[-1].text_body)
    page = client.get(path, headers={"Accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 303
    site_page = page.headers["Location"]
    shown = client.get(site_page)
    assert shown.status_code == 200
    assert shown.mimetype == "text/html"
    assert "Confirm my account" in shown.get_data(as_text=True)
    assert_problem(log_in(client, username="carol"), 403)
    assert submit(client, site_page, page=site_page).status_code == 303
    used = client.get(path, headers={"Accept": "text/html"}, follow_redirects=True)
    assert used.status_code == 409
    assert used.mimetype == "text/html"
    assert log_in(client, username="carol").status_code == 200


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        lambda token: "x" + token,
        lambda token: "not-a-token",
    ],
)
def test_tampered_tokens_confirm_nothing(
    app: Flask, client: FlaskClient, carol: dict[str, Any], mangle: Callable[[str], str]
) -> None:
    token = mangle(activation_token(app, "carol@example.com"))
    body = assert_problem(client.post("/api/v1/users/activate", json={"token": token}), 400)
    assert "token" in body["errors"]
    assert "activation-email" in body["detail"]
    assert_problem(client.get(f"/api/v1/users/activate/{token}"), 404)
    assert_problem(log_in(client, username="carol"), 403)


def test_a_reset_code_is_no_activation_token(
    app: Flask, client: FlaskClient, carol: dict[str, Any]
) -> None:
    client.post("/api/v1/users/password-reset", json={"email": "carol@example.com"})
    code = reset_code(app, "carol@example.com")
    assert_problem(client.post("/api/v1/users/activate", json={"token": code}), 400)


def test_confirmation_links_expire(app: Flask, client: FlaskClient, carol: dict[str, Any]) -> None:
    token = activation_token(app, "carol@example.com")
    with time_machine.travel(utcnow() + timedelta(days=2, minutes=1)):
        body = assert_problem(client.post("/api/v1/users/activate", json={"token": token}), 400)
    assert "expired" in body["detail"]
    assert_problem(log_in(client, username="carol"), 403)


@pytest.mark.parametrize("body", [{}, {"token": ""}, {"token": 5}, {"token": "x", "id": 1}])
def test_bad_activation_bodies_are_400(
    client: FlaskClient, carol: dict[str, Any], body: dict[str, Any]
) -> None:
    assert_problem(client.post("/api/v1/users/activate", json=body), 400)


def test_resend_gives_the_same_answer_for_any_address(
    app: Flask, client: FlaskClient, carol: dict[str, Any], user: dict[str, Any]
) -> None:
    answers = [
        client.post("/api/v1/users/activation-email", json={"email": email})
        for email in ("Carol@Example.com", "alice@example.com", "nobody@example.com")
    ]
    for response in answers:
        assert response.status_code == 202
        assert response.data == answers[0].data
    assert len(outbox(app, "carol@example.com")) == 2  # the first and the resent one
    assert len(outbox(app, "alice@example.com")) == 1  # confirmed already: nothing new
    assert outbox(app, "nobody@example.com") == []
    # Either link works, once.
    newest = activation_token(app, "carol@example.com")
    assert client.post("/api/v1/users/activate", json={"token": newest}).status_code == 204


def test_resend_needs_an_email(client: FlaskClient) -> None:
    body = assert_problem(client.post("/api/v1/users/activation-email", json={}), 400)
    assert "email" in body["errors"]


# Password reset


def test_password_reset_in_two_steps_ends_every_session(
    app: Flask, client: FlaskClient, user: dict[str, Any]
) -> None:
    tokens = log_in(client).json
    answers = [
        client.post("/api/v1/users/password-reset", json={"email": email})
        for email in ("alice@example.com", "nobody@example.com")
    ]
    assert [r.status_code for r in answers] == [202, 202]
    assert answers[0].data == answers[1].data
    assert outbox(app, "nobody@example.com") == []

    code = reset_code(app, "alice@example.com")
    done = client.post(
        "/api/v1/users/password-reset/complete", json={"token": code, "password": NEW_PASSWORD}
    )
    assert done.status_code == 204
    assert_problem(client.get("/api/v1/me", headers=bearer(tokens["access_token"])), 401)
    refresh = client.post("/api/v1/tokens/refresh", headers=bearer(tokens["refresh_token"]))
    assert_problem(refresh, 401)
    assert_problem(log_in(client), 401)
    assert log_in(client, password=NEW_PASSWORD).status_code == 200

    replay = client.post(
        "/api/v1/users/password-reset/complete", json={"token": code, "password": PASSWORD}
    )
    assert "already used" in assert_problem(replay, 400)["detail"]
    assert log_in(client, password=NEW_PASSWORD).status_code == 200


def test_reset_codes_expire(app: Flask, client: FlaskClient, user: dict[str, Any]) -> None:
    client.post("/api/v1/users/password-reset", json={"email": "alice@example.com"})
    code = reset_code(app, "alice@example.com")
    with time_machine.travel(utcnow() + timedelta(hours=1, minutes=1)):
        late = client.post(
            "/api/v1/users/password-reset/complete",
            json={"token": code, "password": NEW_PASSWORD},
        )
    assert "expired" in assert_problem(late, 400)["detail"]
    assert log_in(client).status_code == 200


def test_a_reset_also_confirms_the_address(
    app: Flask, client: FlaskClient, carol: dict[str, Any]
) -> None:
    client.post("/api/v1/users/password-reset", json={"email": "carol@example.com"})
    code = reset_code(app, "carol@example.com")
    body = {"token": code, "password": NEW_PASSWORD}
    assert client.post("/api/v1/users/password-reset/complete", json=body).status_code == 204
    assert log_in(client, password=NEW_PASSWORD, username="carol").status_code == 200


@pytest.mark.parametrize(
    "body", [{"token": "x"}, {"password": NEW_PASSWORD}, {"token": "x", "password": "short"}]
)
def test_incomplete_resets_are_400(client: FlaskClient, body: dict[str, Any]) -> None:
    assert_problem(client.post("/api/v1/users/password-reset/complete", json=body), 400)


# Password change


def test_password_change_keeps_this_session_and_ends_the_others(
    client: FlaskClient, user: dict[str, Any]
) -> None:
    this, other = log_in(client).json, log_in(client).json
    response = client.put(
        "/api/v1/me/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer(this["access_token"]),
    )
    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]
    fresh = response.json
    assert client.get("/api/v1/me", headers=bearer(fresh["access_token"])).status_code == 200
    for token in (this["access_token"], other["access_token"]):
        assert_problem(client.get("/api/v1/me", headers=bearer(token)), 401)
    assert_problem(
        client.post("/api/v1/tokens/refresh", headers=bearer(other["refresh_token"])), 401
    )
    assert_problem(log_in(client), 401)
    assert log_in(client, password=NEW_PASSWORD).status_code == 200


def test_password_change_needs_the_current_password(
    client: FlaskClient, user: dict[str, Any], auth_headers: dict[str, str]
) -> None:
    wrong = client.put(
        "/api/v1/me/password",
        json={"current_password": "a wrong guess", "new_password": NEW_PASSWORD},
        headers=auth_headers,
    )
    body = assert_problem(wrong, 403)
    assert "password-reset" in body["detail"]
    assert client.get("/api/v1/me", headers=auth_headers).status_code == 200
    assert log_in(client).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"current_password": PASSWORD},
        {"current_password": PASSWORD, "new_password": "short"},
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "id": 2},
    ],
)
def test_bad_password_changes_are_400(
    client: FlaskClient, auth_headers: dict[str, str], body: dict[str, Any]
) -> None:
    assert_problem(client.put("/api/v1/me/password", json=body, headers=auth_headers), 400)
    assert log_in(client).status_code == 200


def test_password_change_needs_a_login(client: FlaskClient, user: dict[str, Any]) -> None:
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    response = client.put("/api/v1/me/password", json=body)
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
