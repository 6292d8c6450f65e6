"""Password storage: argon2id, upgraded at login when the parameters change, and the same
work for an unknown login name as for a wrong password."""

from __future__ import annotations

from typing import Any

import pytest
from argon2 import PasswordHasher
from conftest import PASSWORD
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from potluck.domain.database import db
from potluck.domain.models import User


def stored_hash(app: Flask) -> str:
    with app.app_context():
        return db.session.scalars(select(User.password_hash)).one()


def test_passwords_are_argon2id_and_rehashed_when_parameters_change(
    app: Flask, client: FlaskClient, user: dict[str, Any]
) -> None:
    before = stored_hash(app)
    assert before.startswith("$argon2id$")
    assert ",t=1," in before
    app.config["ARGON2_TIME_COST"] = 2
    assert (
        client.post("/api/v1/tokens", json={"username": "alice", "password": PASSWORD}).status_code
        == 200
    )
    after = stored_hash(app)
    assert after != before
    assert ",t=2," in after
    assert PasswordHasher().verify(after, PASSWORD)
    # A wrong password changes nothing.
    app.config["ARGON2_TIME_COST"] = 3
    client.post("/api/v1/tokens", json={"username": "alice", "password": "wrong one"})
    assert stored_hash(app) == after


@pytest.mark.parametrize("login", ["nobody", "nobody@example.com", "alice"])
def test_every_login_costs_one_argon2_verification(
    client: FlaskClient, user: dict[str, Any], monkeypatch: pytest.MonkeyPatch, login: str
) -> None:
    calls: list[str] = []
    real_verify = PasswordHasher.verify

    def counting_verify(self: PasswordHasher, hash: str, password: str) -> bool:
        calls.append(hash)
        return real_verify(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting_verify)
    response = client.post("/api/v1/tokens", json={"username": login, "password": "wrong guess"})
    assert response.status_code == 401
    assert len(calls) == 1
    assert calls[0].startswith("$argon2id$")
