"""The database's own troubles answered as a 503 with Retry-After, wherever they happened: a
transaction it gave up on (deadlock, serialization, a locked file), or a database that cannot
be reached (stopped, restarting, out of connections). Committing is the domain's (transactions)."""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask, Response, current_app, request
from sqlalchemy.exc import OperationalError, ProgrammingError, SQLAlchemyError

from potluck.domain.database import db
from potluck.http.deadlines import StatementDeadline, bound_waits
from potluck.http.errors import error_answer
from potluck.services.outages import Outage

# PostgreSQL's deadlock_detected and serialization_failure: the transaction can simply run again.
_RETRYABLE_STATES = {"40P01", "40001"}
# The server is going, gone or full: admin_shutdown, crash_shutdown, cannot_connect_now
# (starting up or shutting down), too_many_connections; class 08 is connection_exception.
_UNAVAILABLE_STATES = {"57P01", "57P02", "57P03", "53300"}
# Long enough for a restart, and for a retrying client not to hammer a database coming back.
UNAVAILABLE_RETRY_SECONDS = "5"

_outage = Outage("Database", "answering 503 with Retry-After")
_not_migrated = Outage(
    "Database", "answering 503 until `potluck setup` has run", condition="not migrated"
)
# Set by the replay (hot_reads) on a request for which it has just found the database
# unreachable: the request is answered at once instead of waiting out a second connection
# attempt (DATABASE_CONNECT_TIMEOUT_SECONDS) in Flask.
DATABASE_UNREACHABLE = "potluck.database_unreachable"
_DEADLINE = "potluck.statement_deadline"


def unreachable(error: OperationalError) -> bool:
    """The database could not be asked at all: the connection failed or was lost."""
    state = getattr(error.orig, "sqlstate", None)
    if state is not None:
        return state in _UNAVAILABLE_STATES or state.startswith("08")
    # psycopg's own failures (refused, reset, timed out) carry no SQLSTATE, and
    # SQLAlchemy marks a connection it found dead.
    return error.connection_invalidated or type(error.orig).__module__.startswith("psycopg")


def _migration_heads() -> set[str]:
    # The scripts do not change while the process runs: read them once.
    heads: set[str] | None = current_app.extensions.get("potluck.migration_heads")
    if heads is None:
        heads = set(ScriptDirectory(current_app.config["MIGRATIONS_DIR"]).get_heads())
        current_app.extensions["potluck.migration_heads"] = heads
    return heads


def migrations_behind() -> str | None:
    """What keeps the database from the migrations' head, or None when it is there.
    Raises SQLAlchemyError when the database does not answer."""
    with db.engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    heads = _migration_heads()
    if current == heads:
        return None
    at = ", ".join(sorted(current)) or "none"
    return (
        f"not at head: the database is at {at}, the code at {', '.join(sorted(heads))};"
        " run `potluck setup` (or `potluck db upgrade`)"
    )


def schema_trouble(error: OperationalError | ProgrammingError) -> Response:
    """A statement the database could not run: 503 + Retry-After while the migrations have
    not run (a table or column the code needs is missing; the app is not ready yet, as
    /readyz says, and nothing was done), else the bug it is (500)."""
    db.session.rollback()
    try:
        behind = migrations_behind()
    except SQLAlchemyError:
        behind = None
    if behind is None:
        raise error
    _not_migrated.found(RuntimeError(behind))
    return error_answer(
        503,
        "Potluck's database is not set up yet, so nothing was done; retry after the seconds "
        "in Retry-After.",
        headers={"Retry-After": UNAVAILABLE_RETRY_SECONDS},
    )


def database_trouble(error: OperationalError) -> Response:
    """503 + Retry-After when the database dropped the transaction to let another through,
    or could not be reached; any other operational error stays a 500."""
    if unreachable(error):
        db.session.rollback()
        _outage.found(error.orig or error)
        return error_answer(
            503,
            "The database cannot be reached just now; retry after the seconds in Retry-After "
            "(with the same Idempotency-Key, a POST is never done twice).",
            headers={"Retry-After": UNAVAILABLE_RETRY_SECONDS},
        )
    transient = getattr(error.orig, "sqlstate", None) in _RETRYABLE_STATES or (
        "database is locked" in str(error.orig)
    )
    if not transient:
        # SQLite says a missing table is an operational error (PostgreSQL: schema_trouble).
        return schema_trouble(error)
    db.session.rollback()
    return error_answer(
        503,
        "The database was busy with a conflicting change and nothing was saved; "
        "retry after the seconds in Retry-After.",
        headers={"Retry-After": "1"},
    )


def _answer_known_outage() -> Response | None:
    error = request.environ.get(DATABASE_UNREACHABLE)
    if error is None or request.endpoint == "static":  # the error page's own stylesheet
        return None
    return database_trouble(error)


def _end_session(error: BaseException | None = None) -> None:
    """End the session's transaction just before Flask-SQLAlchemy closes the session, as its
    close() would (objects keep what they loaded), except that a connection the database
    dropped since (a restart) must not turn the answer, already made, into a bare 500."""
    db.session.expunge_all()
    try:
        db.session.rollback()
    except OperationalError as lost:
        if not unreachable(lost):
            raise
        _outage.found(lost.orig or lost)


def statement_deadline(app: Flask) -> StatementDeadline | None:
    """The deadline on waits for the database server, None when waits are not bounded."""
    deadline: StatementDeadline | None = app.extensions.get(_DEADLINE)
    return deadline


def init_app(app: Flask) -> None:
    """After db.init_app: app-context teardowns run last registered first."""
    app.register_error_handler(OperationalError, database_trouble)
    app.register_error_handler(ProgrammingError, schema_trouble)
    app.before_request(_answer_known_outage)
    app.teardown_appcontext(_end_session)
    seconds = float(app.config["DATABASE_STATEMENT_TIMEOUT_SECONDS"])
    if seconds > 0 and str(app.config["SQLALCHEMY_DATABASE_URI"]).startswith("postgresql"):
        deadline = app.extensions[_DEADLINE] = StatementDeadline(seconds)
        with app.app_context():
            bound_waits(db.engine, deadline)
