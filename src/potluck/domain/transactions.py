"""Committing the one transaction of a request (or a command), with unique-constraint races
and lost optimistic-locking races turned into the domain's errors."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from potluck.domain.database import db
from potluck.domain.errors import ConcurrentChange, Conflict, DomainError, Unauthenticated

# What a unique constraint's violation means: the error, the field it names, the message.
_Refusal = tuple[type[DomainError], str | None, str]
_EMAIL_TAKEN: _Refusal = (Conflict, "email", "An account with this email already exists.")
_TOKEN_USED: _Refusal = (Unauthenticated, None, "This token has already been used; log in again.")

# Constraint name (PostgreSQL, and SQLite for indexes) or SQLite's "table.column" spelling.
_CONFLICTS: dict[str, _Refusal] = {
    "uq_users_email": _EMAIL_TAKEN,
    "users.email": _EMAIL_TAKEN,
    "uq_users_username_lower": (Conflict, "username", "This username is taken."),
    "pk_revoked_tokens": _TOKEN_USED,
    "revoked_tokens.jti": _TOKEN_USED,
}


def commit() -> None:
    """Commit, or roll back and raise the error the lost race deserves."""
    try:
        db.session.commit()
    except StaleDataError:
        # Another request changed the row between our read and our versioned UPDATE.
        db.session.rollback()
        raise ConcurrentChange(
            "Someone else changed this resource at the same moment; GET it again and retry."
        ) from None
    except IntegrityError as error:
        db.session.rollback()
        text = str(error.orig)
        for constraint, (kind, field, message) in _CONFLICTS.items():
            if constraint in text:
                raise kind(message, errors={field: [message]} if field else None) from None
        raise
