"""Committing a request's one transaction, with unique-constraint races turned into 4xx."""

from __future__ import annotations

from flask import request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from .extensions import db
from .http import abort

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
