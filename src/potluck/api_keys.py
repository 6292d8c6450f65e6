"""API keys: minting, storing only a hash, and signing a request in with one
(`Authorization: Bearer pk_...`). Keys in the URL are refused."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from flask import Flask, g, request
from sqlalchemy import or_, select, update

from .auth import refuse
from .extensions import db
from .http import abort
from .models import ApiKey, User, utcnow

KEY_PREFIX = "pk_"
QUERY_NAMES = ("key", "api_key")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Recording every use would turn each read into a write; a minute is precise enough.
LAST_USED_PRECISION = timedelta(minutes=1)


def hash_api_key(secret: str) -> str:
    # Keys are 256 random bits, so a fast hash is enough; it also makes lookup an index probe.
    return hashlib.sha256(secret.encode()).hexdigest()


def mint_api_key(
    user: User, name: str, scope: str, expires_at: datetime | None
) -> tuple[ApiKey, str]:
    """A new key and its secret; the secret is shown once and never stored."""
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        user=user,
        name=name,
        scope=scope,
        expires_at=expires_at,
        prefix=secret[:10],
        key_hash=hash_api_key(secret),
    )
    db.session.add(key)
    return key, secret


def bearer_api_key() -> str | None:
    """The API key in the Authorization header, if the bearer credential is one."""
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    credential = credential.strip()
    return credential if scheme.lower() == "bearer" and credential.startswith(KEY_PREFIX) else None


def sign_in_with_api_key(secret: str) -> User:
    """The key's owner becomes the current user, within the key's scope."""
    key: ApiKey | None = db.session.scalar(
        select(ApiKey).where(ApiKey.key_hash == hash_api_key(secret))
    )
    now = utcnow()
    if key is None:
        refuse("This API key is unknown or was revoked; create one with POST /api/v1/me/api-keys.")
    if key.expires_at is not None and key.expires_at <= now:
        refuse(f"This API key expired at {key.expires_at.isoformat()}; create a new one.")
    if not key.user.is_active:
        refuse("The account behind this API key is disabled.")
    if key.scope == "read" and request.method not in SAFE_METHODS:
        abort(403, "This API key may only read; create a key with the write scope to change data.")
    _record_use(key.id, now)
    # Flask-JWT-Extended's current_user and get_jwt() then serve key-authenticated requests too.
    g._jwt_extended_jwt_user = {"loaded_user": key.user}
    g._jwt_extended_jwt = {"sub": str(key.user.id), "type": "api_key", "scope": key.scope}
    g.authenticated_user_id = key.user.id
    return key.user


def _record_use(key_id: int, now: datetime) -> None:
    # Its own short transaction, so a read-only request still records the use.
    with db.engine.begin() as connection:
        connection.execute(
            update(ApiKey)
            .where(
                ApiKey.id == key_id,
                or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - LAST_USED_PRECISION),
            )
            .values(last_used_at=now)
        )


def _refuse_keys_in_the_url() -> None:
    if any(name in request.args for name in QUERY_NAMES):
        refuse(
            "Send the API key as a header, 'Authorization: Bearer <key>', never in the URL: "
            "URLs end up in logs. Revoke this key and create a new one."
        )


def init_app(app: Flask) -> None:
    app.before_request(_refuse_keys_in_the_url)
