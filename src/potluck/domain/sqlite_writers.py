"""Writers to one SQLite file take turns in a queue instead of polling for its lock.

SQLite lets one transaction write at a time. A connection that finds the file locked sleeps
in its busy handler (1, 2, 5, 10 … 100 ms) and tries again, so under a burst of writes most
of the time goes to sleeping past the moment the lock came free. Here a connection takes a
lock of its own before its first write: a thread lock within the process, then `flock` on a
file beside the database across processes (every worker, the mail worker, the commands).
Both wake a waiter the moment the holder lets go, at its commit or rollback. Reads never
wait (WAL); writes by anything else still meet SQLite's own busy handler.

A connection that cannot have the lock within the busy timeout writes without it, as before:
a queue must never become a deadlock (say, one thread holding two connections that write)."""

from __future__ import annotations

import fcntl
import logging
import os
import re
import sqlite3
import threading
from typing import Any

log = logging.getLogger(__name__)

# What makes Python's sqlite3 begin a transaction of its own (its rule, Modules/_sqlite).
_WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)
# As long as SQLite's own busy timeout (app/__init__.py sets it on every connection).
_WAIT_SECONDS = 5.0


class _FileTurns:
    """The turn to write to one database file, for the threads of one process."""

    def __init__(self, path: str) -> None:
        self.path = path + "-writers"
        self.threads = threading.Lock()
        self.descriptor: int | None = None
        self.pid = 0

    def take(self) -> bool:
        if not self.threads.acquire(timeout=_WAIT_SECONDS):
            log.warning("no turn to write %s in %ss; writing anyway", self.path, _WAIT_SECONDS)
            return False
        try:
            fcntl.flock(self._descriptor(), fcntl.LOCK_EX)
        except BaseException:
            self.threads.release()
            raise
        return True

    def give_back(self) -> None:
        try:
            fcntl.flock(self._descriptor(), fcntl.LOCK_UN)
        finally:
            self.threads.release()

    def _descriptor(self) -> int:
        # A child process gets a descriptor of its own: one shared with the parent would
        # share its lock too.
        if self.descriptor is None or self.pid != os.getpid():
            self.descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self.pid = os.getpid()
        return self.descriptor


_turns: dict[str, _FileTurns] = {}
_turns_lock = threading.Lock()


def _turns_for(database: Any) -> _FileTurns | None:
    name = os.fsdecode(database) if isinstance(database, str | bytes | os.PathLike) else ""
    if not name or name == ":memory:" or name.startswith("file:"):
        return None  # no file of its own to queue on (tests' in-memory databases)
    path = os.path.abspath(name)
    with _turns_lock:
        return _turns.setdefault(path, _FileTurns(path))


class QueuedWriterConnection(sqlite3.Connection):
    """A sqlite3 connection (`sqlite3.connect(factory=...)`) that waits its turn to write."""

    def __init__(self, database: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        self._turns = _turns_for(database)
        self._holding = False

    def cursor(self, factory: Any = None) -> Any:
        return super().cursor(factory or _QueuedWriterCursor)

    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> Any:
        return self.cursor().executemany(sql, parameters)

    def _before(self, sql: str) -> None:
        waits = self._turns is not None and not self._holding and not self.in_transaction
        if waits and _WRITE.match(sql):
            assert self._turns is not None
            self._holding = self._turns.take()

    def _after(self) -> None:
        """Give the turn back once no transaction is open (ended, or never begun)."""
        if not self.in_transaction:
            self._give_back()

    def _give_back(self) -> None:
        if self._holding:
            self._holding = False
            assert self._turns is not None
            self._turns.give_back()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._after()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._after()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._give_back()  # a transaction left open ends with the connection


class _QueuedWriterCursor(sqlite3.Cursor):
    connection: QueuedWriterConnection

    def execute(self, sql: str, parameters: Any = (), /) -> _QueuedWriterCursor:
        self.connection._before(sql)
        try:
            return super().execute(sql, parameters)
        finally:
            self.connection._after()

    def executemany(self, sql: str, parameters: Any, /) -> _QueuedWriterCursor:
        self.connection._before(sql)
        try:
            return super().executemany(sql, parameters)
        finally:
            self.connection._after()
