"""One transaction per request, and `Idempotency-Key` on POST: a retried request gets the
first answer, never a second write.

Views end their work with `commit()`, which flushes while a request runs (conflicts surface
there); the request's end commits once. A POST with a key is looked up after the caller is
authenticated and counted by the rate limits; its answer is stored in the same transaction
as the write it answers, so the two commit together or not at all. Two racing twins both
run; the database's primary key lets one commit, and the other rolls back and replays the
winner's answer. Rows live IDEMPOTENCY_KEY_SECONDS, a day (`potluck purge` removes older ones)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, request
from sqlalchemy.exc import IntegrityError, OperationalError

from potluck.domain.database import db
from potluck.domain.errors import DomainError
from potluck.domain.models import IdempotencyKey, utcnow
from potluck.domain.transactions import commit_now, defer_commits, has_deferred_work
from potluck.http.auth import Identity, request_identity
from potluck.http.errors import abort, handle_domain_error
from potluck.http.headers import view_attribute
from potluck.http.persistence import database_trouble

F = TypeVar("F", bound=Callable[..., Any])

HEADER = "Idempotency-Key"
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
_REPLAYED_HEADERS = ("Location", "ETag", "Last-Modified", "Link", "Cache-Control")


def never_replayed(view: F) -> F:
    """For answers that carry secrets (tokens): they are never stored, so never replayed."""
    view.never_replayed = True  # type: ignore[attr-defined]
    return view


@dataclass(frozen=True, slots=True)
class _Claim:
    scope: str
    key: str
    fingerprint: str
    expired: IdempotencyKey | None = None  # a row past its lifetime, to be replaced


def _scope(identity: Identity | None) -> str:
    # Keys belong to whoever sent them (an account or an API key), however the credential
    # was spelled: a refreshed token keeps its keys, and nobody else can replay an answer.
    return identity.rate_limit_key if identity else "anonymous"


def _fingerprint() -> str:
    digest = hashlib.sha256(f"{request.method} {request.path}\n".encode())
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def _stored(scope: str, key: str) -> IdempotencyKey | None:
    return db.session.get(IdempotencyKey, (scope, key))


def _fresh(row: IdempotencyKey | None) -> bool:
    lifetime = timedelta(seconds=current_app.config["IDEMPOTENCY_KEY_SECONDS"])
    return row is not None and row.created_at >= utcnow() - lifetime


def _replay(row: IdempotencyKey, claim: _Claim) -> Response:
    if row.fingerprint != claim.fingerprint:
        abort(
            422, f"This {HEADER} was used for a different request; use a new key for a new request."
        )
    response = Response(row.body, status=row.status, headers=row.headers or {})
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _start() -> Response | None:
    defer_commits(True)
    key = request.headers.get(HEADER)
    if request.method != "POST" or key is None or view_attribute("never_replayed", False):
        return None
    identity = request_identity()
    if not isinstance(identity, Identity):
        identity = None
        if view_attribute("requires_identity", False):
            return None  # the view answers 401 before anything else; nothing is stored
    if not _KEY.match(key):
        abort(400, f"{HEADER} must be 1-255 visible ASCII characters, e.g. a UUID.")
    scope = _scope(identity)
    stored = _stored(scope, key)
    claim = _Claim(scope, key, _fingerprint(), expired=stored)
    if stored is not None and _fresh(stored):
        return _replay(stored, claim)
    g.idempotency_claim = claim
    return None


def _finish(response: Response) -> Response:
    """Commit the request's work (with its idempotency record), or roll it back."""
    claim: _Claim | None = g.pop("idempotency_claim", None)
    succeeded = 200 <= response.status_code < 400
    if not succeeded:
        db.session.rollback()
        return response
    if claim is None and not has_deferred_work():
        return response
    if claim is not None and 200 <= response.status_code < 300:
        if claim.expired is not None:
            db.session.delete(claim.expired)
            db.session.flush()
        db.session.add(_record(claim, response))
    try:
        commit_now()
    except IntegrityError:
        db.session.rollback()  # a twin with the same key committed first
        twin = _stored(claim.scope, claim.key) if claim else None
        if claim is None or twin is None:
            raise
        return _replay(twin, claim)
    except DomainError as error:
        return handle_domain_error(error)
    except OperationalError as error:
        # The database went away at the commit, so whether it landed is unknown: a 503 (not
        # a 500), and a retry with the same key gets the first answer if it did.
        return database_trouble(error)
    return response


def _record(claim: _Claim, response: Response) -> IdempotencyKey:
    kept = {name: response.headers[name] for name in _REPLAYED_HEADERS if name in response.headers}
    return IdempotencyKey(
        scope=claim.scope,
        key=claim.key,
        fingerprint=claim.fingerprint,
        status=response.status_code,
        headers={
            "Content-Type": response.headers.get("Content-Type", ""),
            **kept,
        },
        body=response.get_data(),
        created_at=utcnow(),
    )


def _end(error: BaseException | None = None) -> None:
    # Whatever happened (an unhandled error too), nothing half-done outlives the request.
    if has_deferred_work():
        db.session.rollback()
    defer_commits(False)


def init_app(app: Flask) -> None:
    """Register after the rate limiter (its checks run first), so a refused request stores
    nothing, and after the mail sender (its wake-up runs after the commit)."""
    app.before_request(_start)
    app.after_request(_finish)
    app.teardown_request(_end)
