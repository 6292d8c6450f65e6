"""Fixtures: a fresh database per test (SQLite by default, PostgreSQL when
TEST_DATABASE_URL is set by scripts/with-postgres.sh), an app, a client and users."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import Engine, create_engine, event, func, make_url, select, text
from werkzeug.test import TestResponse

from potluck import create_app
from potluck.domain.database import db as _db
from potluck.domain.models import OutboxMail

TEST_SECRET = "test-secret-" + "x" * 40
PASSWORD = "correct horse battery staple"


class ThroughFlask(FlaskClient):
    """A client whose every request carries a new cookie: the replay (hot_reads) keeps an
    answer for one Cookie header only, and none was kept for a new one, so Flask itself
    answers every request."""

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:
        self.set_cookie("visit", secrets.token_hex(8))
        return super().open(*args, **kwargs)


def through_flask(app: Flask) -> FlaskClient:
    return ThroughFlask(app, app.response_class, use_cookies=True)


def pytest_report_header() -> str:
    database = "PostgreSQL" if os.environ.get("TEST_DATABASE_URL") else "SQLite"
    shared = "Redis" if os.environ.get("TEST_REDIS_URL") else "in process"
    return f"database: {database}; cache and rate limits: {shared}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return os.environ.get("TEST_DATABASE_URL") or (
        f"sqlite:///{tmp_path_factory.mktemp('db') / 'potluck.db'}"
    )


def test_environ(database_url: str, instance: Path) -> dict[str, str]:
    environ = {
        "POTLUCK_ENV": "testing",
        "SECRET_KEY": TEST_SECRET,
        "DATABASE_URL": database_url,
        "POTLUCK_INSTANCE_PATH": str(instance),
    }
    if os.environ.get("TEST_REDIS_URL"):
        # The scaled-out pass: server cache and rate-limit counters in a real Redis.
        environ["REDIS_URL"] = os.environ["TEST_REDIS_URL"]
    return environ


@pytest.fixture(scope="session")
def _schema(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Build the schema once per session with the real migrations."""
    app = create_app(environ=test_environ(database_url, tmp_path_factory.mktemp("instance")))
    with app.app_context():
        with _db.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
        _db.engine.dispose()


def _empty_tables() -> None:
    tables = [table.name for table in reversed(_db.metadata.sorted_tables)]
    with _db.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - our table names


@pytest.fixture(autouse=True)
def _empty_redis() -> None:
    # Cache generations restart with the tables, so the shared cache (and counters) must too.
    if url := os.environ.get("TEST_REDIS_URL"):
        with redis.Redis.from_url(url) as connection:
            connection.flushdb()


@pytest.fixture
def app(
    _schema: None, database_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Flask]:
    # Rate limits would trip the many logins of unrelated tests; tests marked
    # `rate_limits` (test_limits.py) run with them on.
    limited = request.node.get_closest_marker("rate_limits") is not None
    replay = request.node.get_closest_marker("no_replay") is None
    app = create_app(
        {"RATELIMIT_ENABLED": limited, "HOT_READS": replay},
        environ=test_environ(database_url, tmp_path / "instance"),
    )
    with app.app_context():
        _empty_tables()
    yield app
    with app.app_context():
        _db.session.remove()
        _db.engine.dispose()


@pytest.fixture
def second_app(app: Flask, database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """Another instance of the app on the same database (another worker or host), with its
    own in-process cache."""
    other = create_app(environ=test_environ(database_url, tmp_path / "instance-b"))
    yield other
    with other.app_context():
        _db.session.remove()
        _db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def db(app: Flask) -> Iterator[Any]:
    with app.app_context():
        yield _db


PROBLEM = "application/problem+json"


def assert_problem(
    response: Any, status: int, detail: str | None = None, *, field: str | None = None
) -> dict[str, Any]:
    """An RFC 9457 error answer: its status in the body too, every member there, never stored
    by a cache; `detail` is a part of its detail, `field` a key of its errors."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == PROBLEM
    assert response.headers["Cache-Control"] == "no-store"
    body: dict[str, Any] = response.json
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    assert body["type"]
    assert body["title"]
    assert body["detail"]
    if detail is not None:
        assert detail in body["detail"], body["detail"]
    if field is not None:
        assert field in body.get("errors", {}), body
    return body


def outbox(app: Flask, recipient: str) -> list[OutboxMail]:
    """The mails queued for `recipient`, oldest first."""
    with app.app_context():
        query = select(OutboxMail).where(OutboxMail.recipient == recipient)
        mails = list(_db.session.scalars(query.order_by(OutboxMail.id)))
        _db.session.expunge_all()
        return mails


def activation_path(text_body: str) -> str:
    """The path of the confirmation link in a mail's text."""
    match = re.search(r"http://[^/\s]+(/users/activate/\S+)", text_body)
    assert match, text_body
    return match.group(1)


def confirm_by_mail(client: FlaskClient, email: str) -> None:
    """Follow the link of the newest confirmation mail in the outbox, as a newcomer does with
    the mail printed to the log (test_mail.py follows links from mail received over SMTP)."""
    mail = outbox(client.application, email)[-1]
    response = client.get(activation_path(mail.text_body))
    assert response.status_code == 204, response.get_data(as_text=True)


@pytest.fixture
def register(client: FlaskClient) -> Callable[..., dict[str, Any]]:
    """Register an account through the API and confirm it through its mailed link (unless
    `confirm=False`); returns the registration's JSON."""

    def register(
        username: str = "alice", email: str | None = None, confirm: bool = True, **extra: Any
    ) -> dict[str, Any]:
        body = {
            "username": username,
            "email": email or f"{username}@example.com",
            "password": PASSWORD,
            **extra,
        }
        response = client.post("/api/v1/users", json=body)
        assert response.status_code == 201, response.json
        data: dict[str, Any] = response.json
        if confirm:
            confirm_by_mail(client, data["email"])
        return data

    return register


@pytest.fixture
def login(client: FlaskClient) -> Callable[[str], dict[str, str]]:
    """Log in through the API; returns the Authorization header."""

    def login(username: str) -> dict[str, str]:
        response = client.post("/api/v1/tokens", json={"username": username, "password": PASSWORD})
        assert response.status_code == 200, response.json
        return {"Authorization": f"Bearer {response.json['access_token']}"}

    return login


@pytest.fixture
def user(register: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    return register("alice")


@pytest.fixture
def auth_headers(user: dict[str, Any], login: Callable[[str], dict[str, str]]) -> dict[str, str]:
    return login(user["username"])


@pytest.fixture
def other_headers(
    register: Callable[..., dict[str, Any]], login: Callable[[str], dict[str, str]]
) -> dict[str, str]:
    register("bob")
    return login("bob")


RECIPE = {
    "name": "Tomato Soup",
    "description": "A quick weeknight soup.",
    "num_of_servings": 4,
    "cook_time": 30,
    "prep_time": 10,
    "ingredients": ["1 kg tomatoes", "1 onion", "2 cloves garlic"],
    "directions": ["Chop everything.", "Simmer for 25 minutes.", "Blend."],
    "tags": ["soup", "vegetarian"],
}


@pytest.fixture
def make_recipe(client: FlaskClient) -> Callable[..., dict[str, Any]]:
    """Create a recipe through the API (published unless asked not to); returns its JSON."""

    def make_recipe(headers: dict[str, str], publish: bool = True, **fields: Any) -> dict[str, Any]:
        response = client.post("/api/v1/recipes", json={**RECIPE, **fields}, headers=headers)
        assert response.status_code == 201, response.json
        recipe: dict[str, Any] = response.json
        if publish:
            published = client.put(f"/api/v1/recipes/{recipe['id']}/publish", headers=headers)
            assert published.status_code == 204
            recipe["is_publish"] = True
        return recipe

    return make_recipe


@pytest.fixture
def count_queries(app: Flask) -> Callable[[], contextlib.AbstractContextManager[list[str]]]:
    """`with count_queries() as statements:` records the SQL a block sends."""

    @contextlib.contextmanager
    def counting() -> Iterator[list[str]]:
        statements: list[str] = []

        def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            statements.append(statement)

        with app.app_context():
            engine = _db.engine
        event.listen(engine, "before_cursor_execute", record)
        try:
            yield statements
        finally:
            event.remove(engine, "before_cursor_execute", record)

    return counting


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class SMTPServer:
    """A real SMTP server (aiosmtpd) on a loopback port, which can be stopped and restarted
    on the same port; it keeps every message it receives."""

    def __init__(self, login: tuple[str, str] | None = None) -> None:
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self.login = login
        self._controller: Controller | None = None

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        given = (auth_data.login.decode(), auth_data.password.decode())
        return AuthResult(success=given == self.login, handled=False)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def start(self) -> None:
        # Without TLS on loopback, so AUTH must be allowed in the clear.
        auth: dict[str, Any] = (
            {"authenticator": self._authenticate, "auth_require_tls": False} if self.login else {}
        )
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **auth)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def use_in(self, app: Flask) -> None:
        app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=self.port, MAIL_TIMEOUT_SECONDS=5)


@pytest.fixture
def smtp_server(app: Flask) -> Iterator[SMTPServer]:
    """A running SMTP server that `app` delivers to."""
    server = SMTPServer()
    server.use_in(app)
    server.start()
    yield server
    server.stop()


@contextlib.contextmanager
def potluck_serving(environ: dict[str, str], port: int, log_path: Path) -> Iterator[None]:
    """`potluck serve` (granian) as a real process group on `port`, logging to `log_path`;
    stopped by its PID when the block ends."""
    potluck = Path(sys.executable).with_name("potluck")
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [potluck, "serve", "--port", str(port), "--workers", "1"],
            env=environ,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            else:
                pytest.fail(f"potluck serve did not start listening:\n{log_path.read_text()}")
            yield
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


def query_plan(sql: str, parameters: Any = ()) -> str:
    """How the database runs a statement: SQLite's query plan, or PostgreSQL's with every
    alternative to an ordered index scan priced out, so a missing index shows as a Sort."""
    with _db.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            for setting in ("enable_seqscan", "enable_sort", "enable_bitmapscan"):
                connection.exec_driver_sql(f"SET {setting} = off")
            rows = connection.exec_driver_sql(f"EXPLAIN {sql}", parameters)
            return "\n".join(row[0] for row in rows)
        rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", parameters)
        return "\n".join(row[-1] for row in rows)


def sorted_like_the_api(recipes: list[dict[str, Any]], sort: str, order: str) -> list[int]:
    """Sorted by `sort` in `order`, ties by id in the same order, missing values last."""
    descending = order == "desc"

    def value(recipe: dict[str, Any]) -> Any:
        raw = recipe[sort]
        return datetime.fromisoformat(raw) if sort.endswith("_at") else raw

    present = [r for r in recipes if r[sort] is not None]
    missing = [r for r in recipes if r[sort] is None]
    ordered = sorted(present, key=lambda r: (value(r), r["id"]), reverse=descending)
    ordered += sorted(missing, key=lambda r: r["id"], reverse=descending)
    return [recipe["id"] for recipe in ordered]


LIVE_PASSWORD = "a live server's long passphrase"
LIVE_MAX_CONTENT_LENGTH = 4 * 1024 * 1024
LIVE_MAX_IMAGE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class LivePotluck:
    """A `potluck serve` process on its own throwaway database, with the confirmed accounts
    `chef` and `sous` (password LIVE_PASSWORD)."""

    base_url: str
    database_url: str
    log_path: Path
    max_content_length: int = LIVE_MAX_CONTENT_LENGTH
    max_image_bytes: int = LIVE_MAX_IMAGE_BYTES

    def row_counts(self) -> dict[str, int]:
        return row_counts_at(self.database_url)


def row_counts_at(database_url: str) -> dict[str, int]:
    """row_counts of a database a live server uses, from its own short-lived engine."""
    engine = create_engine(database_url)
    try:
        return row_counts(engine)
    finally:
        engine.dispose()


def row_counts(database: Flask | Engine) -> dict[str, int]:
    """The number of rows in every table the models declare (a refused request changes none),
    in an app's database or behind an engine."""
    if isinstance(database, Flask):
        with database.app_context():
            return row_counts(_db.engine)
    with database.connect() as connection:
        return {
            table.name: connection.scalar(select(func.count()).select_from(table)) or 0
            for table in _db.metadata.sorted_tables
        }


@contextlib.contextmanager
def throwaway_postgres_database(name: str) -> Iterator[str]:
    """A database of its own on the test PostgreSQL server, dropped afterwards: the
    per-test fixtures empty TEST_DATABASE_URL's tables under a running server's feet."""
    server = make_url(os.environ["TEST_DATABASE_URL"])
    admin = server.set(drivername="postgresql").render_as_string(hide_password=False)
    drop = f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(drop)
        connection.execute(f"CREATE DATABASE {name}")
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(drop)


@contextlib.contextmanager
def _throwaway_database(root: Path) -> Iterator[str]:
    """A SQLite file, or on the PostgreSQL pass a second database on the same server."""
    if not os.environ.get("TEST_DATABASE_URL"):
        yield f"sqlite:///{root / 'live.db'}"
        return
    with throwaway_postgres_database("potluck_live") as url:
        yield url


@pytest.fixture(scope="session")
def live_potluck(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LivePotluck]:
    """`potluck serve` in production mode (a 500 is answered as a client would see it),
    without rate limits, as a real process group on a throwaway database."""
    root = tmp_path_factory.mktemp("live")
    potluck = Path(sys.executable).with_name("potluck")
    with _throwaway_database(root) as database_url:
        environ = {
            **os.environ,
            "POTLUCK_ENV": "production",
            "SECRET_KEY": TEST_SECRET,
            "DATABASE_URL": database_url,
            "POTLUCK_INSTANCE_PATH": str(root),
            "RATELIMIT_ENABLED": "false",
            "MAX_CONTENT_LENGTH": str(LIVE_MAX_CONTENT_LENGTH),
            "MAX_IMAGE_BYTES": str(LIVE_MAX_IMAGE_BYTES),
            # Generated requests import from made-up addresses: never wait long for one.
            "FETCH_TIMEOUT_SECONDS": "2",
            # ...and never from the internet: only from loopback, by address, with no lookups.
            "FETCH_PUBLIC": "false",
            "ARGON2_TIME_COST": "1",
            "ARGON2_MEMORY_COST": "1024",
            "ARGON2_PARALLELISM": "1",
        }
        if url := os.environ.get("TEST_REDIS_URL"):
            # Its own Redis database: the per-test fixtures flush database 0.
            environ["REDIS_URL"] = url.rsplit("/", 1)[0] + "/3"
            with redis.Redis.from_url(environ["REDIS_URL"]) as connection:
                connection.flushdb()
        answers = f"{LIVE_PASSWORD}\n{LIVE_PASSWORD}\n"
        for command, stdin in (
            (["setup"], None),
            (["user", "create", "chef", "chef@example.com"], answers),
            (["user", "create", "sous", "sous@example.com"], answers),
        ):
            done = subprocess.run(
                [potluck, *command],
                env=environ,
                input=stdin,
                capture_output=True,
                text=True,
                check=False,
                timeout=120,
            )
            assert done.returncode == 0, done.stderr
        port = free_port()
        with potluck_serving(environ, port, root / "serve.log"):
            yield LivePotluck(f"http://127.0.0.1:{port}", database_url, root / "serve.log")


# The web site: forms are sent as a browser sends them, with the CSRF token of the session.

_CSRF_FIELD = re.compile(r'name="(?:[\w-]+-)?csrf_token"[^>]*\svalue="([^"]+)"')


def csrf_token(client: FlaskClient, page: str = "/account/login") -> str:
    """The CSRF token of the client's session, read from a page with a form (the login page
    shows one to visitors, and sends the signed in on to a page with the logout button)."""
    response = client.get(page, follow_redirects=True)
    match = _CSRF_FIELD.search(response.get_data(as_text=True))
    assert match, f"no CSRF token on {page}: {response.status_code}"
    return match.group(1)


def submit(
    client: FlaskClient, path: str, data: dict[str, Any] | None = None, page: str | None = None
) -> Any:
    """POST a site form with the session's CSRF token (read from `page`, by default the
    login page); the answer is not followed."""
    token = csrf_token(client, page) if page else csrf_token(client)
    return client.post(path, data={"csrf_token": token, **(data or {})})


def errors_beside(response: Any, field: str) -> str:
    """The messages a page shows beside a form field: the list of its errors, which the
    field names in its aria-describedby."""
    body = response.get_data(as_text=True)
    match = re.search(rf'<ul class="field-errors" id="{field}-errors">(.*?)</ul>', body, re.S)
    assert match, f"no errors beside {field}"
    assert re.search(rf'aria-describedby="[^"]*\b{field}-errors\b', body)
    return match.group(1)


@pytest.fixture
def site_login(client: FlaskClient) -> Callable[[str], None]:
    """Log in through the site's form: the client holds the session cookie afterwards."""

    def site_login(username: str, password: str = PASSWORD) -> None:
        response = submit(client, "/account/login", {"login": username, "password": password})
        assert response.status_code == 303, response.get_data(as_text=True)

    return site_login
