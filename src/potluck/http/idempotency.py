"""`Idempotency-Key` on POST: a retried request gets the first answer, never a second write.

The key's row is inserted in the request's own transaction, so it commits with the write
it guards and a concurrent retry waits on the database, then replays. Rows live
IDEMPOTENCY_KEY_SECONDS (a day); services/housekeeping.py deletes them after that."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, request
from sqlalchemy.exc import IntegrityError

from potluck.domain.database import db
from potluck.domain.models import IdempotencyKey, utcnow
from potluck.http.errors import abort
from potluck.http.headers import view_attribute

F = TypeVar("F", bound=Callable[..., Any])

HEADER = "Idempotency-Key"
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
_REPLAYED_HEADERS = ("Location", "ETag", "Last-Modified", "Link", "Cache-Control")
_WAIT_SECONDS = 5.0


def never_replayed(view: F) -> F:
    """For answers that carry secrets (tokens): they are never stored, so never replayed."""
    view.never_replayed = True  # type: ignore[attr-defined]
    return view


def _scope() -> str:
    # Keys belong to the credentials that sent them: nobody else can replay an answer.
    authorization = request.headers.get("Authorization", "")
    digest = hashlib.sha256(authorization.encode()).hexdigest()[:32]
    return f"auth:{digest}" if authorization else "anonymous"


def _fingerprint() -> str:
    digest = hashlib.sha256(f"{request.method} {request.path}\n".encode())
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def _stored(scope: str, key: str) -> IdempotencyKey | None:
    row = db.session.get(IdempotencyKey, (scope, key), populate_existing=True)
    lifetime = timedelta(seconds=current_app.config["IDEMPOTENCY_KEY_SECONDS"])
    if row is not None and row.created_at < utcnow() - lifetime:
        db.session.delete(row)
        db.session.commit()
        return None
    return row


def _replay(row: IdempotencyKey, fingerprint: str) -> Response:
    if row.fingerprint != fingerprint:
        abort(
            422, f"This {HEADER} was used for a different request; use a new key for a new request."
        )
    deadline = time.monotonic() + _WAIT_SECONDS
    while row.status is None and time.monotonic() < deadline:
        db.session.rollback()  # see what the first request has committed since
        time.sleep(0.05)
        row = db.session.get(IdempotencyKey, (row.scope, row.key), populate_existing=True) or row
    if row.status is None:
        abort(
            409,
            f"The first request with this {HEADER} is still running; retry shortly.",
            headers={"Retry-After": "1"},
        )
    response = Response(row.body, status=row.status, headers=row.headers or {})
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _before() -> Response | None:
    key = request.headers.get(HEADER)
    if request.method != "POST" or key is None or view_attribute("never_replayed", False):
        return None
    if not _KEY.match(key):
        abort(400, f"{HEADER} must be 1-255 visible ASCII characters, e.g. a UUID.")
    scope, fingerprint = _scope(), _fingerprint()
    row = _stored(scope, key)
    if row is not None:
        return _replay(row, fingerprint)
    row = IdempotencyKey(scope=scope, key=key, fingerprint=fingerprint)
    db.session.add(row)
    try:
        db.session.flush()  # waits here while a concurrent twin holds the key
    except IntegrityError:
        db.session.rollback()
        twin = _stored(scope, key)
        if twin is None:
            abort(
                409,
                f"A concurrent request with this {HEADER} failed; retry.",
                headers={"Retry-After": "1"},
            )
        return _replay(twin, fingerprint)
    g.idempotency_row = row
    return None


def _after(response: Response) -> Response:
    row: IdempotencyKey | None = g.pop("idempotency_row", None)
    if row is None:
        return response
    if not 200 <= response.status_code < 300:
        db.session.rollback()  # the key stays free for a corrected retry
        return response
    row.status = response.status_code
    row.headers = {
        "Content-Type": response.headers.get("Content-Type", ""),
        **{name: response.headers[name] for name in _REPLAYED_HEADERS if name in response.headers},
    }
    row.body = response.get_data()
    db.session.commit()
    return response


def init_app(app: Flask) -> None:
    app.before_request(_before)
    app.after_request(_after)
