"""The life of a token pair: expiry on a frozen clock, reuse detection ending every session,
and revocation seen by a second app process on the same database."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import time_machine
from conftest import PASSWORD, PROBLEM, TEST_SECRET
from conftest import test_environ as environ_for
from flask.testing import FlaskClient

# A second process: its own interpreter, app and connection pool, the same database.
OTHER_PROCESS = """
import json, sys
from potluck import create_app
app = create_app({"RATELIMIT_ENABLED": False}, environ=json.loads(sys.argv[1]))
client = app.test_client()
for token in sys.argv[2:]:
    print(client.get("/api/v1/me", headers={"Authorization": "Bearer " + token}).status_code)
"""


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def log_in(client: FlaskClient) -> dict[str, Any]:
    response = client.post("/api/v1/tokens", json={"username": "alice", "password": PASSWORD})
    assert response.status_code == 200, response.get_data(as_text=True)
    body: dict[str, Any] = response.json
    return body


def assert_refused(response: Any, reason: str) -> None:
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.content_type == PROBLEM
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="potluck"')
    assert reason in response.json["detail"]


def statuses_in_another_process(database_url: str, instance: Path, *tokens: str) -> list[int]:
    environ = environ_for(database_url, instance)
    result = subprocess.run(
        [sys.executable, "-c", OTHER_PROCESS, json.dumps(environ), *tokens],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [int(line) for line in result.stdout.split()]


def test_access_tokens_expire_and_refresh_tokens_renew_them(
    client: FlaskClient, user: dict[str, Any]
) -> None:
    start = datetime.now(UTC)
    with time_machine.travel(start, tick=False):
        pair = log_in(client)
    with time_machine.travel(start + timedelta(minutes=14, seconds=59), tick=False):
        assert client.get("/api/v1/me", headers=bearer(pair["access_token"])).status_code == 200
    with time_machine.travel(start + timedelta(minutes=15, seconds=1), tick=False):
        assert_refused(client.get("/api/v1/me", headers=bearer(pair["access_token"])), "expired")
        renewed = client.post("/api/v1/tokens/refresh", headers=bearer(pair["refresh_token"]))
        assert renewed.status_code == 200
        fresh = renewed.json["access_token"]
        assert client.get("/api/v1/me", headers=bearer(fresh)).status_code == 200
    with time_machine.travel(start + timedelta(days=30, seconds=1), tick=False):
        refresh = client.post(
            "/api/v1/tokens/refresh", headers=bearer(renewed.json["refresh_token"])
        )
        assert refresh.status_code == 200  # its own 30 days started at the renewal
    with time_machine.travel(start + timedelta(days=31), tick=False):
        late = client.post("/api/v1/tokens/refresh", headers=bearer(refresh.json["refresh_token"]))
        assert late.status_code == 200
        stale = client.post("/api/v1/tokens/refresh", headers=bearer(pair["refresh_token"]))
        assert_refused(stale, "expired")


def test_reusing_a_rotated_refresh_token_ends_every_session(
    client: FlaskClient, user: dict[str, Any]
) -> None:
    phone, laptop = log_in(client), log_in(client)
    rotated = client.post("/api/v1/tokens/refresh", headers=bearer(phone["refresh_token"])).json
    stolen_reuse = client.post("/api/v1/tokens/refresh", headers=bearer(phone["refresh_token"]))
    assert_refused(stolen_reuse, "every session of this account has been revoked")
    for token in (rotated["access_token"], laptop["access_token"]):
        assert_refused(client.get("/api/v1/me", headers=bearer(token)), "revoked")
    for token in (rotated["refresh_token"], laptop["refresh_token"]):
        assert_refused(client.post("/api/v1/tokens/refresh", headers=bearer(token)), "revoked")
    # A new login starts a new family.
    again = log_in(client)
    assert client.get("/api/v1/me", headers=bearer(again["access_token"])).status_code == 200


def test_a_token_without_a_session_generation_is_refused(
    client: FlaskClient, user: dict[str, Any]
) -> None:
    now = datetime.now(UTC)
    claims = {
        "sub": str(user["id"]),
        "type": "access",
        "fresh": False,
        "jti": str(uuid.uuid4()),
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(minutes=5),
    }
    token = jwt.encode(claims, TEST_SECRET, algorithm="HS256")
    assert_refused(client.get("/api/v1/me", headers=bearer(token)), "revoked")
    older = jwt.encode({**claims, "gen": -1}, TEST_SECRET, algorithm="HS256")
    assert_refused(client.get("/api/v1/me", headers=bearer(older)), "revoked")


def test_revocation_reaches_another_process(
    client: FlaskClient, user: dict[str, Any], database_url: str, tmp_path: Path
) -> None:
    logged_out, kept, family = log_in(client), log_in(client), log_in(client)
    instance = tmp_path / "other-process"
    tokens = [t["access_token"] for t in (logged_out, kept, family)]
    assert statuses_in_another_process(database_url, instance, *tokens) == [200, 200, 200]

    logout = client.delete("/api/v1/tokens", headers=bearer(logged_out["access_token"]))
    assert logout.status_code == 204
    assert statuses_in_another_process(database_url, instance, *tokens) == [401, 200, 200]

    client.post("/api/v1/tokens/refresh", headers=bearer(family["refresh_token"]))
    client.post("/api/v1/tokens/refresh", headers=bearer(family["refresh_token"]))  # reuse
    assert statuses_in_another_process(database_url, instance, *tokens) == [401, 401, 401]
