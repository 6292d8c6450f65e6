"""Fixtures: one live `potluck serve` for the whole session (two confirmed users, rate
limits off), clients signed in as them, the command line, and a scripted stub server for
what a real server will not do on demand (503, 429, dropped answers)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from potluck_client import Client, RetryPolicy
from potluck_client.cli import main

SECRET = "client-tests-secret-" + "x" * 40
PASSWORD = "correct horse battery staple"
USERS = ("chef", "sous")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class LiveServer:
    url: str
    root: Path


def _potluck(environ: dict[str, str], *args: str) -> None:
    potluck = Path(sys.executable).with_name("potluck")
    done = subprocess.run(
        [str(potluck), *args],
        env=environ,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def _register_confirmed(server: LiveServer, username: str) -> None:
    """Register through the API and follow the link of the mail left in the outbox table
    (no mail server here), as a newcomer does with the mail printed to the log."""
    email = f"{username}@example.com"
    with Client(server.url) as client:
        client.register(username, email, PASSWORD)
        with closing(sqlite3.connect(server.root / "potluck.db")) as database:
            (text,) = database.execute(
                "SELECT text_body FROM outbox_mails WHERE recipient = ? ORDER BY id DESC",
                (email,),
            ).fetchone()
        link = re.search(r"https?://\S+(/users/activate/\S+)", text)
        assert link, text
        client.session.request("GET", link.group(1))


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """`potluck serve` (one granian worker) on a throwaway SQLite file, with the confirmed
    users chef and sous; rate limits off so the suite's many requests are not refused."""
    root = tmp_path_factory.mktemp("live")
    environ = {
        **os.environ,
        "POTLUCK_ENV": "testing",
        "SECRET_KEY": SECRET,
        "DATABASE_URL": f"sqlite:///{root / 'potluck.db'}",
        "POTLUCK_INSTANCE_PATH": str(root),
        "RATELIMIT_ENABLED": "false",
        # Recipe imports may fetch from the tests' page server on this machine.
        "FETCH_ALLOWED_NETWORKS": "127.0.0.0/8",
    }
    _potluck(environ, "setup")
    port = free_port()
    potluck = Path(sys.executable).with_name("potluck")
    log_path = root / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(potluck), "serve", "--port", str(port), "--workers", "1"],
            env=environ,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        pytest.fail(f"potluck serve did not start:\n{log_path.read_text()}")
                    time.sleep(0.1)
            server = LiveServer(f"http://127.0.0.1:{port}", root)
            for name in USERS:
                _register_confirmed(server, name)
            yield server
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


@pytest.fixture(scope="session")
def tokens(live_server: LiveServer) -> dict[str, tuple[str, str]]:
    """An (access, refresh) token pair for each user, logged in once for the session."""
    pairs = {}
    for name in USERS:
        with Client(live_server.url) as client:
            pair = client.login(name, PASSWORD)
        pairs[name] = (pair.access_token, pair.refresh_token)
    return pairs


@pytest.fixture
def make_user(live_server: LiveServer) -> Callable[[], str]:
    """Makes confirmed users of this test's own (password PASSWORD); returns their names."""

    def make() -> str:
        name = unique("u")
        _register_confirmed(live_server, name)
        return name

    return make


def no_sleep(seconds: float) -> None:
    raise AssertionError(f"Unexpected retry wait of {seconds} s against the live server")


@pytest.fixture
def make_client(
    live_server: LiveServer, tokens: dict[str, tuple[str, str]]
) -> Iterator[Callable[..., Client]]:
    """Clients signed in as a user (or anonymous with None); closed after the test."""
    made: list[Client] = []

    def make(user: str | None = "chef", **options: Any) -> Client:
        options.setdefault("sleep", no_sleep)
        token = tokens[user][0] if user else None
        client = Client(live_server.url, token=token, **options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def chef(make_client: Callable[..., Client]) -> Client:
    return make_client("chef")


@pytest.fixture
def sous(make_client: Callable[..., Client]) -> Client:
    return make_client("sous")


@pytest.fixture
def anonymous(make_client: Callable[..., Client]) -> Client:
    return make_client(None)


def unique(prefix: str = "r") -> str:
    """A word no other test uses, for names and tags that pick out this test's recipes."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def tiny_png(width: int = 4, height: int = 3, rgb: tuple[int, int, int] = (200, 60, 20)) -> bytes:
    """A valid PNG made by hand, so these tests need no imaging library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


# The command line


@dataclass
class Cli:
    """`potluck-client` run in-process against the live server, with its own config home."""

    url: str
    home: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def config(self) -> Path:
        return self.home / "potluck" / "config.json"

    def __call__(self, *args: str, input: str | None = None, **env: str) -> Result:
        runner = CliRunner()
        environ = {
            "XDG_CONFIG_HOME": str(self.home),
            "POTLUCK_URL": self.url,
            "POTLUCK_API_KEY": "",
            **self.env,
            **env,
        }
        return runner.invoke(main, list(args), input=input, env=environ, catch_exceptions=False)

    def login(self, user: str = "chef") -> None:
        result = self("login", "--username", user, input=f"{PASSWORD}\n")
        assert result.exit_code == 0, result.output


@pytest.fixture
def cli(live_server: LiveServer, tmp_path: Path) -> Cli:
    return Cli(live_server.url, tmp_path / "config-home")


@pytest.fixture
def chef_cli(live_server: LiveServer, tmp_path: Path) -> Cli:
    """The command line logged in as chef, beside the anonymous `cli`."""
    signed_in = Cli(live_server.url, tmp_path / "chef-config-home")
    signed_in.login("chef")
    return signed_in


# The stub server


@dataclass
class Answer:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering
    raw: bytes | None = None  # sent as it is, instead of `body` as JSON
    content_type: str | None = None


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class StubServer:
    """An HTTP server on 127.0.0.1 that gives scripted answers, per "METHOD /path", in
    order (the last one repeats), and records every request it gets."""

    def __init__(self) -> None:
        self.script: dict[str, list[Answer]] = {}
        self.seen: list[Seen] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                path = self.path.split("?")[0]
                stub.seen.append(Seen(self.command, self.path, dict(self.headers), body))
                queue = stub.script.get(f"{self.command} {path}") or [Answer(404, {})]
                answer = queue.pop(0) if len(queue) > 1 else queue[0]
                if answer.drop:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                data = b"" if answer.body is None else json.dumps(answer.body).encode()
                data = data if answer.raw is None else answer.raw
                self.send_response(answer.status)
                kind = "application/problem+json" if answer.status >= 400 else "application/json"
                self.send_header("Content-Type", answer.content_type or kind)
                self.send_header("Content-Length", str(len(data)))
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def on(self, route: str, *answers: Answer) -> None:
        self.script[route] = list(answers)

    def requests(self, route: str) -> list[Seen]:
        method, path = route.split(" ")
        return [s for s in self.seen if s.method == method and s.path.split("?")[0] == path]


@pytest.fixture
def stub() -> Iterator[StubServer]:
    server = StubServer()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()
    server.thread.join(timeout=5)


@dataclass
class Sleeps:
    """An injected sleep that records the waits asked of it instead of waiting."""

    waits: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def stub_client(stub: StubServer, sleeps: Sleeps) -> Iterator[Client]:
    """A client of the stub with the default retry policy and the recording sleep."""
    with Client(stub.url, token="stub-token", retry=RetryPolicy(), sleep=sleeps) as client:
        yield client


RECIPE = {
    "id": 7,
    "name": "Stub Soup",
    "description": "",
    "num_of_servings": 2,
    "cook_time": 30,
    "prep_time": None,
    "ingredients": ["water"],
    "directions": ["Boil."],
    "tags": ["soup"],
    "is_publish": True,
    "cover_url": None,
    "cover": None,
    "source_url": None,
    "author": {"id": 1, "username": "chef", "avatar_url": None},
    "created_at": "2026-11-30T12:00:00+00:00",
    "updated_at": "2026-11-30T12:00:00+00:00",
}


def page_of(*recipes: dict[str, Any], next_cursor: str | None = None) -> dict[str, Any]:
    return {
        "data": list(recipes),
        "page": 1,
        "per_page": 100,
        "pages": 1,
        "total": len(recipes),
        "next_cursor": next_cursor,
        "links": {},
    }
