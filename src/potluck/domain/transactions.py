"""The one transaction of a request (or a command): ending the work with unique-constraint
and optimistic-locking races turned into the domain's errors, and what to do once the
transaction commits or rolls back (files written or released beside the rows).

Within a request the HTTP layer defers the commit (`defer_commits`): `commit()` then flushes,
so conflicts still surface where the work is done, and the request's end commits once, with
the request's idempotency record in the same transaction."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
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


_DEFERRED = "potluck.commit_deferred"
_AFTER_COMMIT = "potluck.after_commit"
_ON_ROLLBACK = "potluck.on_rollback"
_PENDING = "potluck.commit_pending"


def defer_commits(deferred: bool) -> None:
    """While deferred, `commit()` only flushes; `commit_now()` ends the transaction."""
    db.session.info[_DEFERRED] = deferred


def commit() -> None:
    """End a piece of work: commit (or, deferred, flush), or roll back and raise the error
    the lost race deserves."""
    with _as_domain_errors():
        if db.session.info.get(_DEFERRED):
            db.session.flush()
            db.session.info[_PENDING] = True
            return
        db.session.commit()
    _run_after_commit()


def flush() -> None:
    """Send the pending changes now (the transaction stays open), with a lost race turned
    into the domain's error as `commit()` turns it."""
    with _as_domain_errors():
        db.session.flush()


def has_deferred_work() -> bool:
    return bool(db.session.info.get(_PENDING))


def commit_now() -> None:
    """Commit the transaction, deferred or not."""
    with _as_domain_errors():
        db.session.commit()
    _run_after_commit()


def after_commit(action: Callable[[], Any]) -> None:
    """Run `action` once the transaction has committed (it may use the database)."""
    db.session.info.setdefault(_AFTER_COMMIT, []).append(action)


def on_rollback(action: Callable[[], Any]) -> None:
    """Run `action` if the transaction rolls back instead (it must not use the database)."""
    db.session.info.setdefault(_ON_ROLLBACK, []).append(action)


def _run_after_commit() -> None:
    db.session.info.pop(_PENDING, None)
    db.session.info.pop(_ON_ROLLBACK, None)
    for action in db.session.info.pop(_AFTER_COMMIT, []):
        action()


@event.listens_for(Session, "after_soft_rollback")
def _run_on_rollback(session: Session, previous_transaction: Any) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_AFTER_COMMIT, None)
    for action in session.info.pop(_ON_ROLLBACK, []):
        action()


@contextlib.contextmanager
def _as_domain_errors() -> Iterator[None]:
    try:
        yield
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
