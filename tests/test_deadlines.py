"""The client-side deadline on waits for the database (http/deadlines.py): the mechanism on its
own. The PostgreSQL pass proves it on a real server that stops answering (test_faults.py)."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, text

from potluck.http.deadlines import StatementDeadline, bound_waits


class Waiting:
    """A driver connection as the deadline sees it: a socket."""

    def __init__(self, end: socket.socket) -> None:
        self.end = end

    def fileno(self) -> int:
        return self.end.fileno()


def test_a_connection_waiting_past_its_deadline_is_cut(caplog: pytest.LogCaptureFixture) -> None:
    ours, server = socket.socketpair()
    with ours, server:
        deadline = StatementDeadline(0.2)  # kept, as an app keeps its own
        deadline.guard(Waiting(ours))
        server.settimeout(5)
        started = time.monotonic()
        assert server.recv(1) == b""  # the server's side sees the connection closed
        assert time.monotonic() - started < 2
        assert ours.fileno() >= 0  # shut down under the driver, which still owns it
    for _ in range(50):  # logged by the watchdog's thread, just after the cut
        if "did not answer within 0.2 s" in caplog.text:
            break
        time.sleep(0.02)
    assert "did not answer within 0.2 s; its connection was cut" in caplog.text


def test_a_wait_that_ends_in_time_is_left_alone() -> None:
    ours, server = socket.socketpair()
    with ours, server:
        deadline = StatementDeadline(0.2)
        waiting = Waiting(ours)
        deadline.guard(waiting)
        deadline.release(waiting)
        time.sleep(0.6)
        ours.sendall(b"x")
        assert server.recv(1) == b"x"


class Recorded(StatementDeadline):
    def __init__(self) -> None:
        super().__init__(10)
        self.guarded: list[Any] = []

    def guard(self, connection: Any) -> None:
        self.guarded.append(connection)


def test_only_a_requests_waits_are_bounded() -> None:
    """A migration or a seeding from the command line may run as long as it needs."""
    app = Flask(__name__)
    engine = create_engine("sqlite://")
    deadline = Recorded()
    bound_waits(engine, deadline)
    with app.app_context(), engine.connect() as connection:
        connection.execute(text("SELECT 1"))
        connection.commit()
    assert deadline.guarded == []
    with app.test_request_context(), engine.connect() as connection:
        connection.execute(text("SELECT 1"))
        connection.commit()
    assert len(deadline.guarded) >= 2  # the statement and the commit
    assert deadline.waiting == {}  # each released once answered
