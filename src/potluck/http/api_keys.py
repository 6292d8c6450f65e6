"""API keys over HTTP: keys in the URL are refused, and a key's use is recorded (to the
minute) once the request is over."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, g, request
from sqlalchemy import or_, update

from potluck.domain.database import db
from potluck.domain.models import ApiKey, utcnow
from potluck.http.auth import challenge
from potluck.http.errors import abort

QUERY_NAMES = ("key", "api_key")
# Recording every use would turn each read into a write; a minute is precise enough.
LAST_USED_PRECISION = timedelta(minutes=1)


def _record_use(error: BaseException | None = None) -> None:
    identity = g.get("authenticated")
    if identity is None or identity.kind != "api_key":
        return
    # After the request's own transaction has ended (so no SQLite writer waits on another),
    # in a short one of its own, so a read-only request records the use too.
    db.session.rollback()
    now = utcnow()
    with db.engine.begin() as connection:
        connection.execute(
            update(ApiKey)
            .where(
                ApiKey.id == identity.claims["key_id"],
                or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - LAST_USED_PRECISION),
            )
            .values(last_used_at=now)
        )


def _refuse_keys_in_the_url() -> None:
    if any(name in request.args for name in QUERY_NAMES):
        detail = (
            "Send the API key as a header, 'Authorization: Bearer <key>', never in the URL: "
            "URLs end up in logs. Revoke this key and create a new one."
        )
        abort(401, detail, headers={"WWW-Authenticate": challenge(detail)})


def init_app(app: Flask) -> None:
    app.before_request(_refuse_keys_in_the_url)
    app.teardown_request(_record_use)
