"""Writers to one SQLite file take turns (domain/sqlite_writers.py): a second writer waits
for the first one's commit instead of failing or polling, across threads and processes;
readers never wait; a failed or abandoned write gives its turn back."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from potluck.app.config import load_settings
from potluck.domain.sqlite_writers import QueuedWriterConnection

HOLD_SECONDS = 0.3


def _connect(path: Path) -> QueuedWriterConnection:
    # No busy timeout: without the queue a second writer fails at once ("database is locked").
    connection = sqlite3.connect(
        path, factory=QueuedWriterConnection, timeout=0, check_same_thread=False
    )
    assert isinstance(connection, QueuedWriterConnection)
    return connection


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "queue.db"
    with sqlite3.connect(path) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE writes (who TEXT, at REAL)")
    return path


def _write_and_hold(path: str, who: str, started: object, seconds: float) -> None:
    connection = _connect(Path(path))
    connection.execute("INSERT INTO writes VALUES (?, ?)", (who, time.time()))
    started.set()  # type: ignore[attr-defined]
    time.sleep(seconds)
    connection.commit()
    connection.close()


def test_a_second_writer_waits_for_the_first_ones_commit(database: Path) -> None:
    started = threading.Event()
    first = threading.Thread(
        target=_write_and_hold, args=(str(database), "first", started, HOLD_SECONDS)
    )
    first.start()
    assert started.wait(5)
    second = _connect(database)
    began = time.monotonic()
    second.execute("INSERT INTO writes VALUES ('second', ?)", (time.time(),))
    waited = time.monotonic() - began
    second.commit()
    first.join()
    order = [who for (who,) in second.execute("SELECT who FROM writes ORDER BY rowid")]
    assert order == ["first", "second"]
    assert waited >= HOLD_SECONDS * 0.8


def test_writers_in_other_processes_take_turns_too(database: Path) -> None:
    context = multiprocessing.get_context("spawn")
    started = context.Event()
    child = context.Process(
        target=_write_and_hold, args=(str(database), "child", started, HOLD_SECONDS)
    )
    child.start()
    try:
        assert started.wait(30)
        mine = _connect(database)
        mine.execute("INSERT INTO writes VALUES ('parent', ?)", (time.time(),))
        mine.commit()
    finally:
        child.join(30)
    assert child.exitcode == 0
    assert [who for (who,) in mine.execute("SELECT who FROM writes ORDER BY rowid")] == [
        "child",
        "parent",
    ]


def test_readers_do_not_wait_for_a_writer(database: Path) -> None:
    writer, reader = _connect(database), _connect(database)
    writer.execute("INSERT INTO writes VALUES ('uncommitted', 0)")
    began = time.monotonic()
    assert reader.execute("SELECT count(*) FROM writes").fetchone() == (0,)
    assert time.monotonic() - began < HOLD_SECONDS
    writer.rollback()


@pytest.mark.parametrize("end", ["rollback", "close", "failed statement"])
def test_a_write_that_ends_without_commit_gives_its_turn_back(database: Path, end: str) -> None:
    first = _connect(database)
    if end == "failed statement":
        with pytest.raises(sqlite3.OperationalError):
            first.execute("INSERT INTO no_such_table VALUES (1)")
    else:
        first.execute("INSERT INTO writes VALUES ('dropped', 0)")
        getattr(first, end)()
    done = threading.Event()

    def write() -> None:
        second = _connect(database)
        second.execute("INSERT INTO writes VALUES ('next', 0)")
        second.commit()
        done.set()

    threading.Thread(target=write, daemon=True).start()
    assert done.wait(2), "the turn was not given back"


def test_the_app_connects_to_sqlite_files_with_queued_writers() -> None:
    def engine_options(url: str) -> dict[str, Any]:
        environ = {"POTLUCK_ENV": "testing", "DATABASE_URL": url}
        options: dict[str, Any] = load_settings(environ)["SQLALCHEMY_ENGINE_OPTIONS"]
        return options

    sqlite = engine_options("sqlite:////tmp/potluck.db")
    assert sqlite["connect_args"]["factory"] is QueuedWriterConnection
    postgres = engine_options("postgresql+psycopg://potluck@localhost/potluck")
    assert "factory" not in postgres["connect_args"]
