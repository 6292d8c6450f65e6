"""A transaction the database gave up on (deadlock, serialization, a locked file) answered as
a 503 with Retry-After, wherever it happened. Committing is the domain's (transactions)."""

from __future__ import annotations

from flask import Flask, Response
from sqlalchemy.exc import OperationalError

from potluck.domain.database import db
from potluck.http.errors import problem

# PostgreSQL's deadlock_detected and serialization_failure: the transaction can simply run again.
_RETRYABLE_STATES = {"40P01", "40001"}


def _gave_up(error: OperationalError) -> Response:
    """503 + Retry-After when the database dropped the transaction to let another through."""
    transient = getattr(error.orig, "sqlstate", None) in _RETRYABLE_STATES or (
        "database is locked" in str(error.orig)
    )
    if not transient:
        raise error
    db.session.rollback()
    return problem(
        503,
        "The database was busy with a conflicting change and nothing was saved; "
        "retry after the seconds in Retry-After.",
        headers={"Retry-After": "1"},
    )


def init_app(app: Flask) -> None:
    app.register_error_handler(OperationalError, _gave_up)
