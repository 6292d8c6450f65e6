"""Abuse limits: 429 + Retry-After as problem+json on login, registration and account mail,
and the per-account failure throttle, which slows the guesser and not the account's owner."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from conftest import PASSWORD, PROBLEM, outbox
from flask import Flask
from flask.testing import FlaskClient

from potluck.domain.database import db as _db
from potluck.domain.models import utcnow

pytestmark = pytest.mark.rate_limits

ATTACKER = "203.0.113.66"
OWNER = "198.51.100.7"


def from_address(app: Flask, address: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def log_in(client: FlaskClient, username: str = "alice", password: str = PASSWORD) -> Any:
    return client.post("/api/v1/tokens", json={"username": username, "password": password})


def assert_too_many(response: Any) -> dict[str, Any]:
    assert response.status_code == 429, response.get_data(as_text=True)
    assert response.content_type == PROBLEM
    retry_after = int(response.headers["Retry-After"])
    assert 0 < retry_after <= 3600
    body: dict[str, Any] = response.json
    assert body["status"] == 429
    assert "Retry-After" in body["detail"]
    return body


def test_logins_are_limited_per_client(app: Flask, user: dict[str, Any]) -> None:
    client, other = from_address(app, ATTACKER), from_address(app, OWNER)
    first = log_in(client)
    assert first.status_code == 200
    assert first.headers["RateLimit-Limit"] == "20"
    assert first.headers["RateLimit-Remaining"] == "19"
    assert 0 < int(first.headers["RateLimit-Reset"]) <= 60
    for _ in range(19):
        assert log_in(client).status_code == 200
    refused = log_in(client)
    assert "login attempts" in assert_too_many(refused)["detail"]
    assert refused.headers["RateLimit-Remaining"] == "0"
    assert "access_token" not in refused.get_data(as_text=True)
    assert log_in(other).status_code == 200  # another client is not affected
    with time_machine.travel(utcnow() + timedelta(minutes=1, seconds=1)):
        assert log_in(client).status_code == 200


def test_failed_logins_throttle_the_guesser_not_the_owner(
    app: Flask, register: Callable[..., dict[str, Any]]
) -> None:
    register("alice")
    register("bob")
    attacker, owner = from_address(app, ATTACKER), from_address(app, OWNER)
    for guess in range(5):
        assert log_in(attacker, password=f"guess number {guess}").status_code == 401
    # Even the right password is not checked any more: guessing has stopped paying.
    body = assert_too_many(log_in(attacker))
    assert "password-reset" in body["detail"]
    assert_too_many(
        attacker.post("/api/v1/tokens", json={"email": "ALICE@example.com", "password": "x"})
    )
    # The owner, elsewhere, logs in; so does another account from the attacker's address.
    assert log_in(owner).status_code == 200
    assert log_in(attacker, username="bob").status_code == 200
    with time_machine.travel(utcnow() + timedelta(minutes=15, seconds=1)):
        assert log_in(attacker, password="yet another guess").status_code == 401


def test_a_success_clears_that_clients_failures(app: Flask, user: dict[str, Any]) -> None:
    owner = from_address(app, OWNER)
    for _ in range(4):
        assert log_in(owner, password="a typo in it").status_code == 401
    assert log_in(owner).status_code == 200
    for _ in range(4):
        assert log_in(owner, password="another typo").status_code == 401
    assert log_in(owner).status_code == 200


def test_registrations_are_limited_per_client(app: Flask) -> None:
    client, other = from_address(app, ATTACKER), from_address(app, OWNER)
    for number in range(10):
        body = {
            "username": f"user{number}",
            "email": f"u{number}@example.com",
            "password": PASSWORD,
        }
        assert client.post("/api/v1/users", json=body).status_code == 201
    eleventh = {"username": "user10", "email": "u10@example.com", "password": PASSWORD}
    assert "registrations" in assert_too_many(client.post("/api/v1/users", json=eleventh))["detail"]
    assert client.get("/api/v1/users/user10").status_code == 404
    assert other.post("/api/v1/users", json=eleventh).status_code == 201


@pytest.mark.parametrize("path", ["/api/v1/users/activation-email", "/api/v1/users/password-reset"])
def test_account_mail_is_limited_per_client(app: Flask, user: dict[str, Any], path: str) -> None:
    client = from_address(app, ATTACKER)
    for _ in range(5):
        assert client.post(path, json={"email": "alice@example.com"}).status_code == 202
    assert (
        "mail requests"
        in assert_too_many(client.post(path, json={"email": "alice@example.com"}))["detail"]
    )
    assert from_address(app, OWNER).post(path, json={"email": "x@example.com"}).status_code == 202


def test_every_request_counts_against_a_general_limit(app: Flask, user: dict[str, Any]) -> None:
    response = from_address(app, OWNER).get("/api/v1/users/alice")
    assert response.status_code == 200
    assert response.headers["RateLimit-Limit"] == "600"
    assert int(response.headers["RateLimit-Remaining"]) == 599
    assert 0 <= int(response.headers["RateLimit-Reset"]) <= 60


def test_pages_count_against_the_limit_without_advertising_it(
    app: Flask, make_recipe: Callable[..., dict[str, Any]], auth_headers: dict[str, str]
) -> None:
    """A browser reads no RateLimit header: a page, from Flask or replayed, counts against
    the address's limit all the same and carries none; its 429 page says when to retry."""
    recipe = make_recipe(auth_headers)
    app.config["READ_RATE_LIMIT"] = "3 per minute"
    browser = from_address(app, ATTACKER)
    page = browser.get(f"/recipes/{recipe['id']}-").headers["Location"]
    answers = [browser.get(page) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[1].headers["Cache-Status"] == "Potluck; hit; detail=replay"
    for answer in answers:
        assert not [name for name, _ in answer.headers if name.startswith("RateLimit")]
    refused = browser.get(page)
    assert refused.status_code == 429
    assert refused.mimetype == "text/html"
    assert int(refused.headers["Retry-After"]) > 0
    api = from_address(app, OWNER).get(f"/api/v1/recipes/{recipe['id']}")
    assert api.headers["RateLimit-Limit"] == "3"  # the API's answers keep them


def test_reads_are_limited_per_client_address(app: Flask, user: dict[str, Any]) -> None:
    app.config["READ_RATE_LIMIT"] = "3 per minute"
    crowd = from_address(app, ATTACKER)
    answers = [crowd.get("/api/v1/recipes") for _ in range(4)]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    body = assert_too_many(answers[3])
    assert "3 per 1 minute" in body["detail"]
    assert answers[3].headers["RateLimit-Remaining"] == "0"
    assert from_address(app, OWNER).get("/api/v1/recipes").status_code == 200


def test_signed_in_users_are_limited_per_user_not_per_address(
    app: Flask, register: Callable[..., dict[str, Any]], login: Callable[[str], dict[str, str]]
) -> None:
    register("alice")
    register("bob")
    alice, bob = login("alice"), login("bob")
    app.config["WRITE_RATE_LIMIT"] = "2 per minute"
    shared = from_address(app, OWNER)  # both behind one address (an office, a NAT)
    for _ in range(2):
        assert shared.patch("/api/v1/me", json={"bio": "x"}, headers=alice).status_code == 200
    assert_too_many(shared.patch("/api/v1/me", json={"bio": "y"}, headers=alice))
    assert shared.patch("/api/v1/me", json={"bio": "z"}, headers=bob).status_code == 200


def test_a_forged_token_counts_against_the_address(app: Flask, user: dict[str, Any]) -> None:
    app.config["READ_RATE_LIMIT"] = "2 per minute"
    client = from_address(app, ATTACKER)
    for _ in range(2):
        forged = {"Authorization": "Bearer not.a.token"}
        assert client.get("/api/v1/me", headers=forged).status_code == 401
    assert_too_many(client.get("/api/v1/recipes"))


def test_behind_a_trusted_proxy_each_client_has_its_own_count(
    database_url: str, tmp_path: Any
) -> None:
    from conftest import test_environ as environ_for

    from potluck import create_app

    app = create_app(
        {"RATELIMIT_ENABLED": True, "READ_RATE_LIMIT": "2 per minute"},
        environ={**environ_for(database_url, tmp_path), "TRUSTED_PROXIES": "10.0.0.0/8"},
    )
    try:
        proxy = from_address(app, "10.1.2.3")
        first = {"X-Forwarded-For": f"{ATTACKER}, 10.1.2.3"}
        for _ in range(2):
            assert proxy.get("/api/v1/recipes", headers=first).status_code == 200
        assert_too_many(proxy.get("/api/v1/recipes", headers=first))
        other = {"X-Forwarded-For": OWNER}
        assert proxy.get("/api/v1/recipes", headers=other).status_code == 200
    finally:
        with app.app_context():
            _db.session.remove()
            _db.engine.dispose()


def test_images_and_preflights_are_not_counted(app: Flask, user: dict[str, Any]) -> None:
    app.config["READ_RATE_LIMIT"] = "1 per minute"
    client = from_address(app, OWNER)
    for _ in range(3):
        missing = client.get("/media/" + "0" * 64 + "-large.webp")
        assert missing.status_code == 404
        assert "RateLimit-Limit" not in missing.headers
        assert client.options("/api/v1/recipes").status_code == 200


def test_every_operation_documents_429(app: Flask) -> None:
    spec = app.test_client().get("/api/v1/openapi.json").json
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method != "parameters":
                assert "429" in operation["responses"], (method, path)
    for path in (
        "/api/v1/tokens",
        "/api/v1/users",
        "/api/v1/users/activation-email",
        "/api/v1/users/password-reset",
        "/api/v1/users/password-reset/complete",
    ):
        assert "429" in spec["paths"][path]["post"]["responses"], path


@pytest.mark.parametrize("path", ["/api/v1/users/activation-email", "/api/v1/users/password-reset"])
def test_nobody_floods_a_mailbox_from_many_addresses(
    app: Flask, register: Callable[..., dict[str, Any]], path: str
) -> None:
    register("carol", confirm=False)
    before = len(outbox(app, "carol@example.com"))
    answers = [
        from_address(app, f"192.0.2.{n}").post(path, json={"email": "carol@example.com"})
        for n in range(1, 6)
    ]
    assert [r.status_code for r in answers] == [202] * 5  # the same answer throughout
    assert len({r.data for r in answers}) == 1
    assert len(outbox(app, "carol@example.com")) == before + 3
    with time_machine.travel(utcnow() + timedelta(hours=1, seconds=1)):
        assert (
            from_address(app, OWNER).post(path, json={"email": "carol@example.com"}).status_code
            == 202
        )
    assert len(outbox(app, "carol@example.com")) == before + 4
