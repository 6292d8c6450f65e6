"""Committing a request's one transaction, with unique-constraint races turned into 4xx and
a transaction the database gave up on (deadlock, serialization, a locked file) into a 503."""

from __future__ import annotations

from flask import Flask, Response, request
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from .extensions import db
from .http import abort, problem

_EMAIL_TAKEN = (409, "email", "An account with this email already exists.")
_TOKEN_USED = (401, None, "This token has already been used; log in again.")

# Constraint name (PostgreSQL, and SQLite for indexes) or SQLite's "table.column" spelling.
_CONFLICTS: dict[str, tuple[int, str | None, str]] = {
    "uq_users_email": _EMAIL_TAKEN,
    "users.email": _EMAIL_TAKEN,
    "uq_users_username_lower": (409, "username", "This username is taken."),
    "pk_revoked_tokens": _TOKEN_USED,
    "revoked_tokens.jti": _TOKEN_USED,
}


def commit() -> None:
    """Commit, or roll back and answer with the status the lost race deserves."""
    try:
        db.session.commit()
    except StaleDataError:
        # Another request changed the row between our read and our versioned UPDATE.
        db.session.rollback()
        conditional = "If-Match" in request.headers
        abort(
            412 if conditional else 409,
            "Someone else changed this resource at the same moment; GET it again and retry.",
        )
    except IntegrityError as error:
        db.session.rollback()
        text = str(error.orig)
        for constraint, (status, field, message) in _CONFLICTS.items():
            if constraint in text:
                errors = {field: [message]} if field else None
                abort(status, message, errors=errors)
        raise


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
