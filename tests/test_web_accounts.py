"""The site's account pages: register, confirm with a button, log in and out, passwords
(forgot, reset, change), the profile with its avatar, and API keys shown once."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import pytest
from conftest import PASSWORD, activation_path, csrf_token, errors_beside, outbox, submit
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

NEW_PASSWORD = "a completely new passphrase"
HOSTILE = '<script>alert("x")</script>'
HTML = {"Accept": "text/html,application/xhtml+xml"}
ACCOUNT_PAGES = ["/account/profile", "/account/password", "/account/api-keys"]


def api_login(client: FlaskClient, username: str = "alice", password: str = PASSWORD) -> Any:
    return client.post("/api/v1/tokens", json={"username": username, "password": password})


def text(response: Any) -> str:
    body: str = response.get_data(as_text=True)
    return body


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 80, 20)).save(buffer, "PNG")
    return buffer.getvalue()


def session_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def with_cookie(app: Flask, value: str) -> FlaskClient:
    """Another browser holding a copy of a session cookie."""
    other = app.test_client()
    other.set_cookie("session", value)
    return other


def signed_in(client: FlaskClient) -> bool:
    response = client.get("/account/profile")
    return response.status_code == 200


# Registration and confirmation


def test_register_page_has_the_labelled_fields_and_is_never_stored(client: FlaskClient) -> None:
    page = client.get("/account/register")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    for label in ("Username", "Email", "Password", "Display name"):
        assert f">{label}</label>" in text(page)
    assert "Create account</button>" in text(page)


def test_register_confirm_by_button_and_log_in(app: Flask, client: FlaskClient) -> None:
    data = {
        "username": "carol",
        "email": "Carol@Example.com",
        "password": PASSWORD,
        "display_name": "Carol",
    }
    created = submit(client, "/account/register", data)
    assert created.status_code == 303
    assert created.headers["Location"] == "/account/login"
    assert "carol@example.com" in text(client.get("/account/login"))  # the flash
    [mail] = outbox(app, "carol@example.com")

    # A browser (or a mail scanner) opening the link is shown a button: nothing is used up.
    link = client.get(activation_path(mail.text_body), headers=HTML)
    assert link.status_code == 303
    confirm_path = link.headers["Location"]
    assert confirm_path.startswith("/account/confirm/")
    page = client.get(confirm_path)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert "Confirm my account</button>" in text(page)
    assert api_login(client, "carol").status_code == 403

    confirmed = submit(client, confirm_path, page=confirm_path)
    assert confirmed.status_code == 303
    assert confirmed.headers["Location"] == "/account/login"
    assert api_login(client, "carol").status_code == 200
    used = client.get(confirm_path)
    assert used.status_code == 409
    assert "already used" in text(used)
    assert client.get("/account/confirm/not-a-token").status_code == 404


def test_the_mail_link_still_confirms_for_api_clients(
    app: Flask, client: FlaskClient, register: Callable[..., dict[str, Any]]
) -> None:
    register("carol", confirm=False)
    path = activation_path(outbox(app, "carol@example.com")[-1].text_body)
    assert client.get(path, headers={"Accept": "application/json"}).status_code == 204
    assert api_login(client, "carol").status_code == 200


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"username": "x"}, "username"),
        ({"username": "avatar"}, "username"),
        ({"username": HOSTILE}, "username"),
        ({"email": "not an address"}, "email"),
        ({"password": "short"}, "password"),
        ({"display_name": "n" * 81}, "display_name"),
        ({"display_name": "tab\there"}, "display_name"),
    ],
)
def test_bad_registrations_are_422_with_the_error_beside_the_field(
    app: Flask, client: FlaskClient, data: dict[str, str], field: str
) -> None:
    form = {"username": "carol", "email": "carol@example.com", "password": PASSWORD, **data}
    response = submit(client, "/account/register", form)
    assert response.status_code == 422
    assert response.headers["Cache-Control"] == "no-store"
    assert errors_beside(response, field)
    assert HOSTILE not in text(response)  # what was typed comes back escaped
    assert outbox(app, "carol@example.com") == []


@pytest.mark.parametrize(
    ("data", "field"),
    [({"username": "Alice"}, "username"), ({"email": "ALICE@example.com"}, "email")],
)
def test_a_taken_name_or_address_is_422_beside_that_field(
    client: FlaskClient, user: dict[str, Any], data: dict[str, str], field: str
) -> None:
    form = {"username": "carol", "email": "carol@example.com", "password": PASSWORD, **data}
    response = submit(client, "/account/register", form)
    assert response.status_code == 422
    assert "taken" in errors_beside(response, field) or "exists" in errors_beside(response, field)


def test_an_unconfirmed_login_offers_to_send_the_mail_again(
    app: Flask, client: FlaskClient, register: Callable[..., dict[str, Any]]
) -> None:
    register("carol", confirm=False)
    refused = submit(client, "/account/login", {"login": "carol", "password": PASSWORD})
    assert refused.status_code == 422
    assert "Confirm your email address" in text(refused)
    assert "Send the mail again</button>" in text(refused)
    assert 'value="carol@example.com"' in text(refused)
    resent = submit(client, "/account/confirmation-mail", {"resend-email": "carol@example.com"})
    assert resent.status_code == 303
    assert len(outbox(app, "carol@example.com")) == 2
    assert not signed_in(client)


# Sessions


def test_login_and_logout_end_the_session_everywhere(
    app: Flask, client: FlaskClient, user: dict[str, Any], site_login: Callable[[str], None]
) -> None:
    wrong = submit(client, "/account/login", {"login": "alice", "password": "wrong password"})
    assert wrong.status_code == 422
    assert "wrong" in text(wrong)
    site_login("alice")
    copy = session_cookie(client)
    assert signed_in(client)
    assert signed_in(with_cookie(app, copy))
    out = submit(client, "/account/logout")
    assert out.status_code == 303
    assert not signed_in(client)
    assert not signed_in(with_cookie(app, copy))  # the copy is refused too


@pytest.mark.parametrize("path", [*ACCOUNT_PAGES, "/my/recipes", "/recipes/new"])
def test_pages_of_the_signed_in_send_visitors_to_log_in(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/account/login?next=")


@pytest.mark.parametrize("path", ACCOUNT_PAGES)
def test_account_pages_are_never_stored(
    client: FlaskClient, user: dict[str, Any], site_login: Callable[[str], None], path: str
) -> None:
    site_login("alice")
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(
    app: Flask, client: FlaskClient, user: dict[str, Any], site_login: Callable[[str], None]
) -> None:
    assert app.config["WTF_CSRF_ENABLED"]
    site_login("alice")
    for path, data in [
        ("/account/profile", {"display_name": "Mallory"}),
        ("/account/api-keys", {"name": "stolen", "scope": "write"}),
        ("/account/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
        ("/account/logout", {}),
    ]:
        response = client.post(path, data=data)
        assert response.status_code == 400, path
        assert "did not come from this site" in text(response)
    forged = client.post("/account/profile", data={"csrf_token": "forged", "display_name": "M"})
    assert forged.status_code == 400
    assert signed_in(client)
    assert "Mallory" not in text(client.get("/account/profile"))
    assert "stolen" not in text(client.get("/account/api-keys"))
    assert api_login(client).status_code == 200


# Passwords


def test_forgot_and_reset_by_the_mailed_link(
    app: Flask, client: FlaskClient, user: dict[str, Any], site_login: Callable[[str], None]
) -> None:
    site_login("alice")
    old_session = session_cookie(client)
    other = app.test_client()
    asked = submit(other, "/account/forgot", {"email": "Alice@example.com"})
    assert asked.status_code == 303
    nobody = submit(other, "/account/forgot", {"email": "nobody@example.com"})
    assert nobody.status_code == 303
    assert outbox(app, "nobody@example.com") == []
    mail = outbox(app, "alice@example.com")[-1]
    match = re.search(r"http://[^/\s]+(/account/reset/\S+)", mail.text_body)
    assert match, mail.text_body
    reset_path = match.group(1)
    assert reset_path in mail.html_body

    page = other.get(reset_path)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    short = submit(other, reset_path, {"password": "short"}, page=reset_path)
    assert short.status_code == 422
    assert errors_beside(short, "password")
    done = submit(other, reset_path, {"password": NEW_PASSWORD}, page=reset_path)
    assert done.status_code == 303
    assert done.headers["Location"] == "/account/login"
    assert not signed_in(with_cookie(app, old_session))  # every session ended
    assert api_login(client).status_code == 401
    assert api_login(client, password=NEW_PASSWORD).status_code == 200
    assert other.get(reset_path).status_code == 404  # used up


def test_change_password_keeps_this_browser_and_ends_the_others(
    app: Flask, client: FlaskClient, user: dict[str, Any], site_login: Callable[[str], None]
) -> None:
    site_login("alice")
    old_session = session_cookie(client)
    wrong = submit(
        client,
        "/account/password",
        {"current_password": "not it at all", "new_password": NEW_PASSWORD},
    )
    assert wrong.status_code == 422
    assert errors_beside(wrong, "current_password")
    short = submit(
        client, "/account/password", {"current_password": PASSWORD, "new_password": "short"}
    )
    assert short.status_code == 422
    assert errors_beside(short, "new_password")
    assert api_login(client).status_code == 200

    changed = submit(
        client, "/account/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert changed.status_code == 303
    assert changed.headers["Location"] == "/account/profile"
    assert signed_in(client)
    assert not signed_in(with_cookie(app, old_session))
    assert api_login(client, password=NEW_PASSWORD).status_code == 200


# Profile


def test_profile_saves_text_and_escapes_it(
    client: FlaskClient, user: dict[str, Any], site_login: Callable[[str], None]
) -> None:
    site_login("alice")
    saved = submit(client, "/account/profile", {"display_name": HOSTILE, "bio": f"Hi\n{HOSTILE}"})
    assert saved.status_code == 303
    assert saved.headers["Location"] == "/account/profile"
    page = text(client.get("/account/profile"))
    assert HOSTILE not in page
    assert "&lt;script&gt;" in page
    me = client.get("/api/v1/users/alice").json
    assert me["display_name"] == HOSTILE
    too_long = submit(client, "/account/profile", {"display_name": "ok", "bio": "b" * 501})
    assert too_long.status_code == 422
    assert errors_beside(too_long, "bio")


def test_avatar_upload_shows_the_stored_image_and_can_be_removed(
    client: FlaskClient, user: dict[str, Any], site_login: Callable[[str], None]
) -> None:
    site_login("alice")
    token = csrf_token(client, "/account/profile")
    uploaded = client.post(
        "/account/profile",
        data={"csrf_token": token, "display_name": "Alice", "avatar": (io.BytesIO(png()), "a.png")},
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 303
    avatar = client.get("/api/v1/users/alice").json["avatar"]
    assert avatar is not None
    assert avatar["thumbnail"] in text(client.get("/account/profile"))

    token = csrf_token(client, "/account/profile")
    refused = client.post(
        "/account/profile",
        data={"csrf_token": token, "avatar": (io.BytesIO(b"<html>no image</html>"), "x.png")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422
    assert "JPEG, PNG, WebP or GIF" in errors_beside(refused, "avatar")

    removed = submit(client, "/account/profile/avatar/remove", page="/account/profile")
    assert removed.status_code == 303
    assert client.get("/api/v1/users/alice").json["avatar"] is None


# API keys


def test_an_api_key_secret_is_shown_once_and_revoking_stops_it(
    client: FlaskClient,
    auth_headers: dict[str, str],
    site_login: Callable[[str], None],
) -> None:
    site_login("alice")
    created = submit(
        client, "/account/api-keys", {"name": HOSTILE, "scope": "write", "expires_at": "2999-01-31"}
    )
    assert created.status_code == 303
    assert created.headers["Location"] == "/account/api-keys"
    page = client.get("/account/api-keys")
    assert page.headers["Cache-Control"] == "no-store"
    secret = re.search(r'<code class="secret" id="new-key">(pk_[\w-]+)</code>', text(page))
    assert secret, text(page)
    assert HOSTILE not in text(page)
    assert "2999-01-31" in text(page)
    again = text(client.get("/account/api-keys"))
    assert secret.group(1) not in again  # once only
    bearer = {"Authorization": f"Bearer {secret.group(1)}"}
    assert client.get("/api/v1/me", headers=bearer).status_code == 200

    [key] = client.get("/api/v1/me/api-keys", headers=auth_headers).json
    assert key["scope"] == "write"
    revoked = submit(client, f"/account/api-keys/{key['id']}/revoke")
    assert revoked.status_code == 303
    assert client.get("/api/v1/me", headers=bearer).status_code == 401
    assert submit(client, f"/account/api-keys/{key['id']}/revoke").status_code == 404


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "n" * 81}, "name"),
        ({"scope": "admin"}, "scope"),
        ({"expires_at": "2001-01-01"}, "expires_at"),
        ({"expires_at": "tomorrow"}, "expires_at"),
    ],
)
def test_bad_api_keys_are_422_beside_the_field(
    client: FlaskClient,
    user: dict[str, Any],
    site_login: Callable[[str], None],
    data: dict[str, str],
    field: str,
) -> None:
    site_login("alice")
    response = submit(client, "/account/api-keys", {"name": "script", "scope": "read", **data})
    assert response.status_code == 422
    assert errors_beside(response, field)
    assert "You have no API keys." in text(response)


def test_another_users_key_cannot_be_revoked(
    client: FlaskClient,
    user: dict[str, Any],
    register: Callable[..., dict[str, Any]],
    login: Callable[[str], dict[str, str]],
    site_login: Callable[[str], None],
) -> None:
    register("bob")
    bob = login("bob")
    key = client.post("/api/v1/me/api-keys", json={"name": "bob's"}, headers=bob).json
    site_login("alice")
    assert submit(client, f"/account/api-keys/{key['id']}/revoke").status_code == 404
    assert len(client.get("/api/v1/me/api-keys", headers=bob).json) == 1
