"""A client-side deadline on every wait for a database server during a request.

A server that stops answering without closing its connections (its processes stopped or
stuck on storage, its machine paused) leaves a request waiting forever: its kernel still
acknowledges what is sent, so neither TCP keepalives nor a server-side statement_timeout
ever fire. Here each wait on a connection (a statement, a commit or rollback, the pool's
ping, the reset when a connection goes back to the pool) is registered with a deadline,
and a watchdog thread shuts down the socket of any connection still waiting past it. The
driver then fails as for a connection the server closed, the pool discards it, and the
request is answered 503 with Retry-After (persistence.py).

Only waits of a request are bounded (its teardown's included, and the hot reads' own
questions, which guard themselves): a command-line migration or seeding may take as long as
it needs."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import weakref
from typing import Any

from flask import g, has_app_context, has_request_context
from sqlalchemy import event
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)


class StatementDeadline:
    """Cuts the connections that wait for the server longer than `seconds`."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.waiting: dict[int, tuple[Any, float]] = {}
        self.lock = threading.Lock()

    def guard(self, connection: Any) -> None:
        """`connection` (the driver's) starts waiting for the server now."""
        with self.lock:
            self.waiting[id(connection)] = (connection, time.monotonic() + self.seconds)
        _watch(self)

    def release(self, connection: Any) -> None:
        with self.lock:
            self.waiting.pop(id(connection), None)

    def cut_overdue(self) -> None:
        now = time.monotonic()
        with self.lock:
            overdue = [entry for entry in self.waiting.values() if entry[1] <= now]
            for connection, _ in overdue:
                del self.waiting[id(connection)]
        for connection, _ in overdue:
            _cut(connection, self.seconds)


# One watchdog thread a process for every deadline in it (an app's), started by the first
# wait; a deadline whose app is gone drops out of the set by itself.
_WATCHED: weakref.WeakSet[StatementDeadline] = weakref.WeakSet()
_WATCHDOG_LOCK = threading.Lock()
_watchdog_pid = 0
_TICK_SECONDS = 0.1


def _watch(deadline: StatementDeadline) -> None:
    global _watchdog_pid
    if deadline in _WATCHED and _watchdog_pid == os.getpid():
        return
    with _WATCHDOG_LOCK:
        _WATCHED.add(deadline)
        if _watchdog_pid != os.getpid():  # none yet in this process (a fork has none)
            _watchdog_pid = os.getpid()
            threading.Thread(target=_watchdog, name="database-deadline", daemon=True).start()


def _watchdog() -> None:
    while True:
        time.sleep(_TICK_SECONDS)
        for deadline in list(_WATCHED):
            deadline.cut_overdue()


def _cut(connection: Any, seconds: float) -> None:
    """Shut the connection's socket down under the driver, which then sees it closed."""
    try:
        with socket.socket(fileno=socket.dup(connection.fileno())) as copy:
            copy.shutdown(socket.SHUT_RDWR)
    except Exception as error:  # closed meanwhile (the driver says so its own way)
        log.debug("database connection already closed: %s", error)
        return
    log.warning("the database did not answer within %g s; its connection was cut", seconds)


def _usable(connection: Any) -> bool:
    """Whether a Connection still holds its driver's connection: asking an invalidated one
    for it would try to reconnect, inside an error's handling."""
    return connection is not None and not connection.closed and not connection.invalidated


def bound_waits(engine: Engine, deadline: StatementDeadline) -> None:
    """Register every wait of a request on `engine`'s connections with `deadline`."""

    def guarded(connection: Any) -> None:
        # Inside a request, and in its teardown (the session's last rollback), which runs
        # once the request's context is gone but the app's remains: `g` tells.
        if has_request_context():
            g.potluck_bounded_waits = True
        elif not (has_app_context() and g.get("potluck_bounded_waits")):
            return
        deadline.guard(connection)

    @event.listens_for(engine, "before_cursor_execute")
    def _statement(conn: Any, *_: Any) -> None:
        guarded(conn.connection.dbapi_connection)

    @event.listens_for(engine, "after_cursor_execute")
    def _answered(conn: Any, *_: Any) -> None:
        deadline.release(conn.connection.dbapi_connection)

    @event.listens_for(engine, "handle_error")
    def _failed(context: Any) -> None:
        if _usable(context.connection):
            deadline.release(context.connection.connection.dbapi_connection)

    for name in ("commit", "rollback"):

        @event.listens_for(engine, name)
        def _ending(conn: Any) -> None:
            if _usable(conn):  # an invalidated one has nothing left to wait on
                guarded(conn.connection.dbapi_connection)

    @event.listens_for(engine.pool, "invalidate")
    def _invalidated(dbapi_connection: Any, *_: Any) -> None:
        if dbapi_connection is not None:
            deadline.release(dbapi_connection)

    @event.listens_for(engine.pool, "reset")
    def _reset(dbapi_connection: Any, *_: Any) -> None:
        guarded(dbapi_connection)

    @event.listens_for(engine.pool, "checkin")
    def _returned(dbapi_connection: Any, *_: Any) -> None:
        if dbapi_connection is not None:
            deadline.release(dbapi_connection)

    ping = engine.dialect.do_ping

    def guarded_ping(dbapi_connection: Any) -> bool:
        guarded(dbapi_connection)
        try:
            return bool(ping(dbapi_connection))
        finally:
            deadline.release(dbapi_connection)

    engine.dialect.do_ping = guarded_ping  # type: ignore[method-assign]
