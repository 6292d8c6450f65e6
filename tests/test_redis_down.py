"""Redis down in the scaled-out mode: pages and the API keep answering, rate limits count in
each process's memory and the server cache misses, until Redis is back, which the app finds
by itself (docs/deploy.md, "When Redis is down"). On the pass where REDIS_URL is set
(make test-postgres, scripts/with-redis.sh); each test runs its own Redis, or none."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from conftest import (
    PASSWORD,
    RECIPE,
    activation_path,
    free_port,
    outbox,
    submit,
    through_flask,
)
from conftest import test_environ as environ_for
from flask import Flask
from flask.testing import FlaskClient

from potluck import create_app
from potluck.domain.database import db as _db
from potluck.http.limits import limiter
from potluck.services.outages import RETRY_SECONDS

pytestmark = pytest.mark.skipif(
    not os.environ.get("TEST_REDIS_URL"), reason="the scaled-out pass only (REDIS_URL is set)"
)

REPLAY = "Potluck; hit; detail=replay"


class RedisServer:
    """A redis-server of the test's own on a loopback port, stopped and started again on
    the same port (empty each time: it keeps nothing on disk)."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port)]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        with redis.Redis.from_url(self.url) as connection:
            while True:
                try:
                    connection.ping()
                    return
                except redis.ConnectionError:
                    assert time.monotonic() < deadline, "redis-server did not start"
                    time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def keys(self, pattern: str) -> list[bytes]:
        with redis.Redis.from_url(self.url) as connection:
            return list(connection.keys(pattern))


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed (scripts/with-redis.sh installs it)")
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def app_on(app: Flask, database_url: str, tmp_path: Path) -> Iterator[Callable[[str], Flask]]:
    """An app with its rate limits on, whose REDIS_URL is the given one (`app` has emptied
    the tables); afterwards the shared limiter is back on a live Redis, for the next tests."""
    made: list[Flask] = []

    def app_on(url: str) -> Flask:
        environ = {**environ_for(database_url, tmp_path / "instance"), "REDIS_URL": url}
        made.append(create_app({"RATELIMIT_ENABLED": True}, environ=environ))
        return made[-1]

    yield app_on
    healthy = app_on(os.environ["TEST_REDIS_URL"])  # the suite's Redis, which runs
    wait_until_counting_in_redis(healthy, "/api/v1/tags")
    for each in made:
        with each.app_context():
            _db.session.remove()
            _db.engine.dispose()


def wait_until_counting_in_redis(app: Flask, path: str, seconds: float = 10) -> None:
    """Flask-Limiter, counting in memory, asks Redis again now and then (after 1, 2, 4... s)."""
    client = through_flask(app)
    deadline = time.monotonic() + seconds
    while limiter.limiter.storage is not limiter.storage:
        assert time.monotonic() < deadline, "the rate limits never went back to Redis"
        assert_answers(client.get(path), 200)
        time.sleep(0.05)


@pytest.fixture
def redis_warnings() -> Iterator[list[logging.LogRecord]]:
    """The warnings the app logs about Redis."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("potluck")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def assert_answers(response: Any, status: int) -> None:
    """The normal answer: its status, counted (in memory while Redis is away), no trace."""
    body = response.get_data(as_text=True)
    assert response.status_code == status, body
    assert "Traceback" not in body
    if response.mimetype != "text/html":  # a page says nothing of limits (test_limits.py)
        assert "RateLimit-Remaining" in response.headers


def sign_up(client: FlaskClient, username: str) -> dict[str, str]:
    """Register (registration limit), confirm, fail a login once, log in (the per-account
    failure counter is tested, hit and cleared), and ask for mail (per-address counter)."""
    email = f"{username}@example.com"
    body = {"username": username, "email": email, "password": PASSWORD}
    assert_answers(client.post("/api/v1/users", json=body), 201)
    mail = outbox(client.application, email)[-1]
    assert client.get(activation_path(mail.text_body)).status_code == 204
    wrong = {"username": username, "password": "not the password"}
    assert_answers(client.post("/api/v1/tokens", json=wrong), 401)
    right = client.post("/api/v1/tokens", json={"username": username, "password": PASSWORD})
    assert_answers(right, 200)
    asked = client.post("/api/v1/users/password-reset", json={"email": email})
    assert_answers(asked, 202)
    assert len(outbox(client.application, email)) == 2  # the confirmation, the reset code
    return {"Authorization": f"Bearer {right.json['access_token']}"}


def publish(client: FlaskClient, headers: dict[str, str], name: str) -> int:
    created = client.post("/api/v1/recipes", json={**RECIPE, "name": name}, headers=headers)
    assert_answers(created, 201)
    published = client.put(f"/api/v1/recipes/{created.json['id']}/publish", headers=headers)
    assert published.status_code == 204
    recipe_id: int = created.json["id"]
    return recipe_id


def read_anonymously(client: FlaskClient, recipe_id: int) -> list[str]:
    """Lists, a recipe, again and again (replayed), and pages; their Cache-Status."""
    statuses = []
    for path in ["/api/v1/recipes", f"/api/v1/recipes/{recipe_id}"] * 3 + ["/", "/search?q=soup"]:
        response = client.get(path)
        assert_answers(response, 200)
        statuses.append(response.headers.get("Cache-Status", ""))
    return statuses


def test_nothing_listens_at_redis_url(
    app_on: Callable[[str], Flask], redis_warnings: list[logging.LogRecord]
) -> None:
    started = time.monotonic()
    app = app_on(f"redis://127.0.0.1:{free_port()}/0")
    client = app.test_client()
    headers = sign_up(client, "alice")
    recipe_id = publish(client, headers, "Soup without Redis")
    assert REPLAY in read_anonymously(client, recipe_id)
    site = app.test_client()
    signed_in = submit(site, "/account/login", {"login": "alice", "password": PASSWORD})
    assert signed_in.status_code == 303, signed_in.get_data(as_text=True)
    assert_answers(site.get("/my/recipes"), 200)
    built = through_flask(app).get(f"/api/v1/recipes/{recipe_id}")
    assert_answers(built, 200)
    assert built.headers["Cache-Status"] == "Potluck; fwd=miss"  # built, kept nowhere
    # A warning when the cache tries Redis again (every RETRY_SECONDS), not one per request.
    warned = [record for record in redis_warnings if "Redis" in record.getMessage()]
    assert 1 <= len(warned) <= 1 + (time.monotonic() - started) / RETRY_SECONDS


def test_redis_going_away_and_coming_back(
    app_on: Callable[[str], Flask], redis_server: RedisServer
) -> None:
    app = app_on(redis_server.url)
    client = app.test_client()
    headers = sign_up(client, "alice")
    recipe_id = publish(client, headers, "Soup before")
    assert REPLAY in read_anonymously(client, recipe_id)
    assert redis_server.keys("LIMITS*")
    assert redis_server.keys("potluck:*")

    redis_server.stop()
    # The replay counts before Flask runs: the first to meet the outage goes on to Flask.
    assert_answers(client.get(f"/api/v1/recipes/{recipe_id}"), 200)
    headers = sign_up(client, "bob")
    recipe_id = publish(client, headers, "Soup during")
    assert REPLAY in read_anonymously(client, recipe_id)

    redis_server.start()  # empty: what it held is gone, as after a restart without disk
    assert_answers(client.get(f"/api/v1/recipes/{recipe_id}"), 200)
    wait_until_counting_in_redis(app, f"/api/v1/recipes/{recipe_id}")
    deadline = time.monotonic() + 10  # the server cache tries Redis again after a while
    while not redis_server.keys("potluck:*"):
        assert time.monotonic() < deadline, "the server cache never went back to Redis"
        assert_answers(through_flask(app).get("/api/v1/recipes?per_page=5"), 200)
        time.sleep(0.05)
    headers = sign_up(client, "carol")
    publish(client, headers, "Soup after")
    assert redis_server.keys("LIMITS*")
