"""Faults, through the real deployment: deploy/up.sh's nginx, two instances and mail worker, on
the PostgreSQL and Redis up.sh starts itself (so a test may stop them without touching the
suite's servers). An instance killed with SIGKILL during a burst of writes, PostgreSQL stopped
and started under load, and the SMTP server down while people register; each test counts what
was acknowledged against what is stored. The deployment runs on the PostgreSQL pass (make
test-postgres); under CI=true a missing nginx fails it. In-process tests pin what those faults
showed: a database that never answers, a connection lost at the commit, and one dropped after
the answer was made."""

from __future__ import annotations

import collections
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from conftest import PASSWORD, PROBLEM, RECIPE, SMTPServer, row_counts
from conftest import test_environ as environ_for
from deployment import ROOT, Topology, deployed, running
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import make_url, text
from sqlalchemy.exc import OperationalError

from potluck import create_app
from potluck.domain.database import db as _db
from potluck.http import idempotency

deployment_pass = pytest.mark.skipif(
    not (os.environ.get("TEST_DATABASE_URL") and os.environ.get("TEST_REDIS_URL")),
    reason="the scaled-out topology runs on the PostgreSQL pass (make test-postgres)",
)
RETRIED = {502, 503, 504}  # nginx's answers for a lost instance, and the app's while the DB is out
WRITERS = 8


@dataclass(frozen=True)
class Deployment:
    topology: Topology
    smtp: SMTPServer  # the deployment's MAIL_SERVER, not running until a test starts it

    def sql(self, query: str, *parameters: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.topology.setting("DATABASE_URL"), connect_timeout=5) as db:
            return db.execute(query, parameters).fetchall()


@pytest.fixture(scope="module")
def deployment() -> Iterator[Deployment]:
    smtp = SMTPServer()
    settings = {
        "DATABASE_URL": None,  # up.sh starts a PostgreSQL (and a Redis) of the deployment's own
        "REDIS_URL": None,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp.port),
        "MAIL_TIMEOUT_SECONDS": "2",
        "MAIL_POLL_SECONDS": "0.2",
        "MAIL_RETRY_SECONDS": "1",
        "MAIL_RETRY_MAX_SECONDS": "1",
        "WRITE_RATE_LIMIT": "100000 per minute",
        "READ_RATE_LIMIT": "100000 per minute",
        "REGISTRATION_RATE_LIMIT": "1000 per hour",
    }
    with deployed(settings) as topology:
        yield Deployment(topology, smtp)
    smtp.stop()


@dataclass
class Writes:
    """Recipe POSTs, each retried with its own Idempotency-Key after a lost connection, a 502,
    503 or 504 until acknowledged: what was acknowledged, and what it took."""

    topology: Topology
    headers: dict[str, str]
    acknowledged: dict[str, int] = field(default_factory=dict)  # key -> recipe id
    interrupted: collections.Counter[str] = field(default_factory=collections.Counter)
    replayed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def write(self, client: httpx.Client, key: str, deadline: float) -> None:
        body = {**RECIPE, "name": f"Fault {key}"}
        while True:
            assert time.monotonic() < deadline, f"{key} never acknowledged: {self.interrupted}"
            try:
                response = client.post(
                    f"{self.topology.public}/api/v1/recipes",
                    json=body,
                    headers={**self.headers, "Idempotency-Key": key},
                )
            except httpx.TransportError as error:
                self._count(type(error).__name__)
            else:
                if response.status_code == 201:
                    break
                assert response.status_code in RETRIED, response.text
                if response.status_code == 503:
                    assert response.headers["Retry-After"], response.headers
                self._count(str(response.status_code))
            time.sleep(0.1)
        with self.lock:
            self.acknowledged[key] = response.json()["id"]
            self.replayed += response.headers.get("Idempotent-Replayed") == "true"

    def _count(self, what: str) -> None:
        with self.lock:
            self.interrupted[what] += 1

    def run(self, keys: list[str], while_running: Callable[[], None], seconds: float = 90) -> None:
        """Every key written by WRITERS clients at once, while `while_running` runs here."""
        deadline = time.monotonic() + seconds

        def writer(share: list[str]) -> None:
            with self.topology.client(timeout=10) as client:
                for key in share:
                    self.write(client, key, deadline)

        with ThreadPoolExecutor(WRITERS) as pool:
            done = [pool.submit(writer, keys[n::WRITERS]) for n in range(WRITERS)]
            try:
                while_running()
            finally:
                for future in done:
                    future.result()

    def wait_for(self, count: int) -> None:
        deadline = time.monotonic() + 60
        while len(self.acknowledged) < count:
            assert time.monotonic() < deadline, f"only {len(self.acknowledged)} acknowledged"
            time.sleep(0.01)


def assert_stored_exactly_once(deployment: Deployment, writes: Writes, keys: list[str]) -> None:
    """One whole recipe per acknowledged key, the acknowledged one, with its stored answer."""
    assert sorted(writes.acknowledged) == sorted(keys)
    names = [f"Fault {key}" for key in keys]
    rows = deployment.sql(
        "SELECT r.name, r.id, jsonb_array_length(r.ingredients::jsonb), count(t.tag_id)"
        " FROM recipes r LEFT JOIN recipe_tags t ON t.recipe_id = r.id"
        " WHERE r.name = ANY(%s) GROUP BY r.id",
        names,
    )
    stored = collections.defaultdict(list)
    for name, recipe_id, ingredients, tags in rows:
        assert (ingredients, tags) == (len(RECIPE["ingredients"]), len(RECIPE["tags"])), name
        stored[name.removeprefix("Fault ")].append(recipe_id)
    assert {key: ids for key, ids in stored.items() if len(ids) > 1} == {}
    assert {key: ids[0] for key, ids in stored.items()} == writes.acknowledged
    answers = deployment.sql(
        "SELECT key, status, body FROM idempotency_keys WHERE key = ANY(%s)", keys
    )
    assert {key: (status, json.loads(body)["id"]) for key, status, body in answers} == {
        key: (201, recipe_id) for key, recipe_id in writes.acknowledged.items()
    }


def _refused(address: str) -> bool:
    host, port = address.removeprefix("http://").split(":")
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


@deployment_pass
def test_an_instance_killed_during_a_burst_of_writes_loses_no_acknowledged_write(
    deployment: Deployment,
) -> None:
    topology = deployment.topology
    writes = Writes(topology, topology.login("chef"))
    keys = [f"kill-{n}-{uuid.uuid4()}" for n in range(240)]
    victim = topology.pid("app-1")

    def kill_one_instance() -> None:
        writes.wait_for(60)  # the burst is in full flow on both instances
        os.killpg(victim, signal.SIGKILL)  # granian's main process and its worker

    try:
        writes.run(keys, kill_one_instance)
        print(
            f"\nkill -9: {len(keys)} writes, {len(writes.acknowledged)} acknowledged, "
            f"interrupted {dict(writes.interrupted)}, replayed {writes.replayed}"
        )
        # The kill hit writes in flight (else this test proved nothing), and each one's
        # retry through nginx reached the surviving instance.
        assert sum(writes.interrupted.values()) >= 1
        assert not running(victim)
        assert _refused(topology.instances[0])
        assert_stored_exactly_once(deployment, writes, keys)
    finally:
        restarted = topology.up()  # starts what is missing: the killed instance
    assert restarted.returncode == 0, restarted.stdout
    assert topology.pid("app-1") != victim
    with topology.client() as client:
        assert client.get(f"{topology.instances[0]}/readyz").status_code == 200


@dataclass
class Load:
    """Reads and pages, as a signed-in user and anonymously, each answer kept by phase."""

    topology: Topology
    headers: dict[str, str]
    phase: str = "up"
    answers: list[tuple[str, str, httpx.Response]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def requests(self) -> dict[str, Callable[[httpx.Client], httpx.Response]]:
        public = self.topology.public
        return {
            "me": lambda client: client.get(f"{public}/api/v1/me", headers=self.headers),
            # A new search each time: no cache can answer it.
            "search": lambda client: client.get(
                f"{public}/api/v1/recipes", params={"q": uuid.uuid4().hex[:8]}
            ),
            "page": lambda client: client.get(f"{public}/", headers={"Accept": "text/html"}),
        }

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """One client per kind of request, asking until the block ends."""
        readers = [threading.Thread(target=self._ask, args=(kind,)) for kind in self.requests()]
        for reader in readers:
            reader.start()
        try:
            yield
        finally:
            self.stop.set()
            for reader in readers:
                reader.join()

    def _ask(self, kind: str) -> None:
        ask = self.requests()[kind]
        with self.topology.client(timeout=10) as client:
            while not self.stop.is_set():
                phase = self.phase
                self.answers.append((phase, kind, ask(client)))
                time.sleep(0.02)

    def seen(self, phase: str) -> dict[str, collections.Counter[int]]:
        counts: dict[str, collections.Counter[int]] = collections.defaultdict(collections.Counter)
        for at, kind, response in self.answers:
            if at == phase:
                counts[kind][response.status_code] += 1
        return dict(counts)


def _postgres(topology: Topology, action: str) -> None:
    """pg_ctl on the cluster deploy/up.sh made, with up.sh's own helpers and options."""
    directory = topology.deploy_dir / "postgres"
    if action == "stop":
        arguments = ["-m", "fast", "stop"]
    else:
        options = f"-h 127.0.0.1 -p {topology.environ['POSTGRES_PORT']} -k {directory}"
        arguments = ["-l", f"{directory}/server.log", "-o", f"{options} -c max_connections=200"]
        arguments.append("start")
    script = 'source "$0"; as_postgres "$(postgres_bin)/pg_ctl" -D "$1" -w "${@:2}"'
    done = subprocess.run(
        ["bash", "-c", script, ROOT / "deploy" / "lib.sh", directory / "data", *arguments],
        env=dict(topology.environ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@deployment_pass
def test_postgresql_restarted_under_load_is_503_with_retry_after_then_recovered(
    deployment: Deployment,
) -> None:
    topology = deployment.topology
    chef = topology.login("chef")
    instances = (topology.pid("app-1"), topology.pid("app-2"))
    load = Load(topology, chef)
    writes = Writes(topology, chef)
    keys = [f"restart-{n}-{uuid.uuid4()}" for n in range(200)]
    probes: list[tuple[float, httpx.Response]] = []

    def restart_postgresql() -> None:
        writes.wait_for(30)
        load.phase = "stopping"
        _postgres(topology, "stop")
        load.phase = "down"
        try:
            with topology.client() as client:
                for _ in range(3):
                    for instance in topology.instances:
                        started = time.monotonic()
                        probe = client.get(f"{instance}/readyz")
                        probes.append((time.monotonic() - started, probe))
                    time.sleep(0.5)
            load.phase = "starting"
        finally:
            _postgres(topology, "start")
        load.phase = "back"
        writes.wait_for(len(keys))
        time.sleep(1)  # a full second of every kind of request after the recovery

    with load.running():
        writes.run(keys, restart_postgresql)
    print(
        f"\nPostgreSQL restart: {len(keys)} writes, {len(writes.acknowledged)} acknowledged, "
        f"interrupted {dict(writes.interrupted)}, replayed {writes.replayed}; "
        + "; ".join(f"{phase} {load.seen(phase)}" for phase in ("up", "down", "back"))
    )

    for phase, kind, response in load.answers:
        assert response.status_code in {200, 503}, (phase, kind, response.text)
        if response.status_code == 503:
            assert int(response.headers["Retry-After"]) > 0
            wanted = "text/html" if kind == "page" else PROBLEM
            assert response.headers["Content-Type"].startswith(wanted), response.headers
    down = load.seen("down")
    # The database was really missed.
    assert down["me"][503] > 0, down
    assert down["search"][503] > 0, down
    assert set(writes.interrupted) == {"503"}  # nothing else: no 500, no 502, no lost connection
    for kind, counts in load.seen("back").items():
        assert counts[200] > 0, (kind, counts)
    last = {kind: response.status_code for _, kind, response in load.answers}
    assert last == {"me": 200, "search": 200, "page": 200}

    # While it was down, /readyz said so at once.
    for seconds, probe in probes:
        assert probe.status_code == 503
        assert probe.headers["Retry-After"] == "5"
        assert probe.json()["checks"]["database"].startswith("unreachable")
        assert seconds < 2
    # Recovered without restarting anything but PostgreSQL.
    with topology.client() as client:
        for instance in topology.instances:
            assert client.get(f"{instance}/readyz").status_code == 200
    assert (topology.pid("app-1"), topology.pid("app-2")) == instances
    assert all(running(pid) for pid in instances)
    assert_stored_exactly_once(deployment, writes, keys)


def _wait(condition: Callable[[], bool], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@deployment_pass
def test_registrations_while_smtp_is_down_get_their_mail_once_it_is_back(
    deployment: Deployment,
) -> None:
    topology, smtp = deployment.topology, deployment.smtp
    names = [f"cook{n}{uuid.uuid4().hex[:6]}" for n in range(5)]
    emails = [f"{name}@example.com" for name in names]
    with topology.client() as client:
        for name, email in zip(names, emails, strict=True):
            account = {"username": name, "email": email, "password": PASSWORD}
            created = client.post(f"{topology.public}/api/v1/users", json=account)
            assert created.status_code == 201, created.text

    def outbox() -> list[tuple[Any, ...]]:
        return deployment.sql(
            "SELECT recipient, attempts, sent_at, last_error FROM outbox_mails"
            " WHERE recipient = ANY(%s)",
            emails,
        )

    # The worker found nothing listening on MAIL_PORT, and put each one off.
    _wait(lambda: len([row for row in outbox() if row[3]]) == 5, "a failed round")
    assert all(sent_at is None for _, _, sent_at, _ in outbox())

    smtp.start()
    try:
        _wait(lambda: len(smtp.messages) >= 5, "the mail")
        time.sleep(1)  # several more of the worker's rounds: nothing is sent twice
    finally:
        smtp.stop()
    delivered = collections.Counter(str(message["To"]) for message in smtp.messages)
    print(f"\nSMTP down: {len(emails)} registered, {sum(delivered.values())} mails delivered")
    assert delivered == collections.Counter(emails)
    assert len({message["Message-ID"] for message in smtp.messages}) == 5
    rows = outbox()
    assert all(sent_at is not None for _, _, sent_at, _ in rows), rows
    assert sum(attempts for _, attempts, _, _ in rows) > 5, rows  # the failed tries count
    worker_log = (topology.deploy_dir / "log" / "worker.log").read_text()
    assert all(f"sent to {email}" in worker_log for email in emails)

    # The mail is the real thing: its link confirms the account.
    mail = next(message for message in smtp.messages if message["To"] == emails[0])
    text = mail.get_body(("plain",))
    assert text is not None
    link = re.search(rf"{re.escape(topology.public)}(/users/activate/\S+)", text.get_content())
    assert link, text.get_content()
    with topology.client() as client:
        assert client.get(f"{topology.public}{link.group(1)}").status_code == 204
        login = {"username": names[0], "password": PASSWORD}
        assert client.post(f"{topology.public}/api/v1/tokens", json=login).status_code == 200


# In process: the answers the faults above showed, each pinned without a deployment.


def test_a_database_that_never_answers_costs_a_request_its_connect_timeout(
    tmp_path: Path,
) -> None:
    with socket.socket() as black_hole:
        # The kernel completes the handshake; nobody ever reads the startup packet.
        black_hole.bind(("127.0.0.1", 0))
        black_hole.listen()
        port = black_hole.getsockname()[1]
        environ = environ_for(f"postgresql://potluck@127.0.0.1:{port}/potluck", tmp_path)
        app = create_app(
            {"RATELIMIT_ENABLED": False},
            environ={**environ, "DATABASE_CONNECT_TIMEOUT_SECONDS": "2"},
        )
        client = app.test_client()
        account = {"username": "ann", "email": "ann@example.com", "password": PASSWORD}
        for method, path in (("GET", "/readyz"), ("POST", "/api/v1/users")):
            started = time.monotonic()
            response = client.open(path, method=method, json=account)
            assert time.monotonic() - started < 4  # psycopg's default would be 130 s
            assert response.status_code == 503, response.text
            assert response.headers["Retry-After"] == "5"
            assert response.mimetype == PROBLEM


class FreezingRelay:
    """A TCP relay to PostgreSQL that can stop relaying with every connection left open, as
    a server whose processes stopped does: its kernel still takes what is sent, so nothing
    on the client's side notices."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.thawed = threading.Event()
        self.thawed.set()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.ends: list[socket.socket] = []
        self.relays: list[threading.Thread] = []
        accepting = threading.Thread(target=self._accept, daemon=True)
        accepting.start()
        self.relays.append(accepting)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            self.ends.append(client)
            self.thawed.wait()  # a frozen server takes no new session either
            self.ends.append(upstream := socket.create_connection(self.target))
            for source, sink in ((client, upstream), (upstream, client)):
                relay = threading.Thread(target=self._relay, args=(source, sink), daemon=True)
                relay.start()
                self.relays.append(relay)

    def _relay(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                self.thawed.wait()
                sink.sendall(data)
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.thawed.set()
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        self.listener.close()
        for end in self.ends:
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
        for relay in self.relays:
            relay.join(timeout=5)
        for end in self.ends:
            end.close()


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="a PostgreSQL server's wait")
def test_a_database_that_stops_answering_mid_conversation_is_a_503_within_the_deadline(
    app: Flask, tmp_path: Path, auth_headers: dict[str, str]
) -> None:
    """Connections open in the pool (and the replay's own), then the server stops answering:
    each request is answered 503 within the statement deadline and the connect timeout, the
    stuck connections are cut, and everything answers again once the server does."""
    server = make_url(os.environ["TEST_DATABASE_URL"])
    relay = FreezingRelay(server.host or "127.0.0.1", server.port or 5432)
    url = server.set(host="127.0.0.1", port=relay.port).render_as_string(hide_password=False)
    frozen_app = create_app(
        {"RATELIMIT_ENABLED": False},
        environ={
            **environ_for(url, tmp_path / "frozen"),
            "DATABASE_CONNECT_TIMEOUT_SECONDS": "2",
            "DATABASE_STATEMENT_TIMEOUT_SECONDS": "1",
        },
    )
    client = frozen_app.test_client()
    reads = {
        "recipes": ("/api/v1/recipes?per_page=3", {}),
        "me": ("/api/v1/me", auth_headers),
        "page": ("/", {"Accept": "text/html"}),
    }
    try:
        for path, headers in reads.values():
            assert client.get(path, headers=headers).status_code == 200
        relay.thawed.clear()
        for kind, (path, headers) in reads.items():
            started = time.monotonic()
            answer = client.get(path, headers=headers)
            waited = time.monotonic() - started
            print(f"frozen database: {kind} answered {answer.status_code} in {waited:.2f} s")
            assert answer.status_code == 503, (kind, answer.text)
            assert answer.headers["Retry-After"] == "5"
            # The deadline cuts a wait on an open connection; a new one gives up after the
            # connect timeout: never both twice.
            assert waited < 1 + 2 * 2 + 1.5, (kind, waited)
        relay.thawed.set()
        for kind, (path, headers) in reads.items():
            assert client.get(path, headers=headers).status_code == 200, kind
    finally:
        with frozen_app.app_context():
            _db.session.remove()
            _db.engine.dispose()
        relay.close()


def test_a_connection_lost_at_the_commit_is_a_503_and_the_retry_writes_once(
    app: Flask,
    client: FlaskClient,
    auth_headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def lost() -> None:
        orig = psycopg.OperationalError("server closed the connection unexpectedly")
        raise OperationalError("COMMIT", {}, orig)

    headers = {**auth_headers, "Idempotency-Key": "lost-at-commit"}
    before = row_counts(app)
    with monkeypatch.context() as patched:
        patched.setattr(idempotency, "commit_now", lost)
        refused = client.post("/api/v1/recipes", json=RECIPE, headers=headers)
    assert refused.status_code == 503
    assert refused.mimetype == PROBLEM
    assert refused.headers["Retry-After"] == "5"
    assert "Idempotency-Key" in refused.json["detail"]
    assert row_counts(app) == before

    created = client.post("/api/v1/recipes", json=RECIPE, headers=headers)
    assert created.status_code == 201
    again = client.post("/api/v1/recipes", json=RECIPE, headers=headers)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json["id"] == created.json["id"]
    assert row_counts(app)["recipes"] == before["recipes"] + 1


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="PostgreSQL ends the session")
def test_a_connection_dropped_mid_request_is_a_503_not_a_500(app: Flask) -> None:
    """The database ends the request's session (as a restart does) between two statements:
    the next one fails, the transaction is rolled back on a connection that is gone, and the
    answer is a 503 with Retry-After; the pool replaces the connection for the next request."""
    server = make_url(os.environ["TEST_DATABASE_URL"]).set(drivername="postgresql")

    def lose_the_connection_then_ask() -> dict[str, int]:
        backend = _db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with psycopg.connect(server.render_as_string(hide_password=False)) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
        _db.session.execute(text("SELECT 1"))
        return {"backend": backend}

    app.add_url_rule("/api/v1/lost-midway", "lost_midway", lose_the_connection_then_ask)
    answer = app.test_client().get("/api/v1/lost-midway")
    assert answer.status_code == 503, answer.text
    assert answer.headers["Retry-After"] == "5"
    assert app.test_client().get("/readyz").status_code == 200


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="PostgreSQL ends the session")
def test_a_connection_dropped_after_the_answer_keeps_the_answer(app: Flask) -> None:
    server = make_url(os.environ["TEST_DATABASE_URL"]).set(drivername="postgresql")

    def read_then_lose_the_connection() -> dict[str, int]:
        backend = _db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with psycopg.connect(server.render_as_string(hide_password=False)) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
        return {"backend": backend}

    app.add_url_rule("/api/v1/lost", "lost", read_then_lose_the_connection)
    # The request's transaction ends at the teardown, on a connection that is gone by then.
    answer = app.test_client().get("/api/v1/lost")
    assert answer.status_code == 200
    assert answer.json["backend"] > 0
    assert app.test_client().get("/readyz").status_code == 200  # the pool replaced it
