"""The database's own troubles answered as a 503 with Retry-After, wherever they happened: a
transaction it gave up on (deadlock, serialization, a locked file), or a database that cannot
be reached (stopped, restarting, out of connections). Committing is the domain's (transactions)."""

from __future__ import annotations

from flask import Flask, Response, request
from sqlalchemy.exc import OperationalError

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
        raise error
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
    app.before_request(_answer_known_outage)
    app.teardown_appcontext(_end_session)
    seconds = float(app.config["DATABASE_STATEMENT_TIMEOUT_SECONDS"])
    if seconds > 0 and str(app.config["SQLALCHEMY_DATABASE_URI"]).startswith("postgresql"):
        deadline = app.extensions[_DEADLINE] = StatementDeadline(seconds)
        with app.app_context():
            bound_waits(db.engine, deadline)
