"""Abuse limits: 429 + Retry-After as problem+json on login, registration and account mail,
and the per-account failure throttle, which slows the guesser and not the account's owner."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from conftest import PASSWORD, outbox
from flask import Flask
from flask.testing import FlaskClient

from potluck.models import utcnow

pytestmark = pytest.mark.rate_limits

PROBLEM = "application/problem+json"
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


def test_unlimited_endpoints_carry_no_rate_limit_headers(app: Flask, user: dict[str, Any]) -> None:
    response = from_address(app, OWNER).get("/api/v1/users/alice")
    assert response.status_code == 200
    assert "RateLimit-Limit" not in response.headers
    assert "Retry-After" not in response.headers


def test_limited_operations_document_429(app: Flask) -> None:
    spec = app.test_client().get("/api/v1/openapi.json").json
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
