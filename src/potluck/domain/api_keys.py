"""API keys: minting, storing only a hash, finding the key a secret names, and whether it
still works. The secret is shown once and never stored."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from potluck.domain.database import db
from potluck.domain.errors import NotFound
from potluck.domain.models import ApiKey, User, utcnow

KEY_PREFIX = "pk_"


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


def api_keys_of(user: User) -> list[ApiKey]:
    """The user's keys, oldest first."""
    query = select(ApiKey).where(ApiKey.user_id == user.id).order_by(ApiKey.id)
    return list(db.session.scalars(query))


def own_api_key(user: User, key_id: int) -> ApiKey:
    """One of the user's keys; another user's key is as absent as a missing one."""
    key: ApiKey | None = db.session.get(ApiKey, key_id)
    if key is None or key.user_id != user.id:
        raise NotFound(f"You have no API key {key_id}.")
    return key


def revoke_api_key(user: User, key_id: int) -> None:
    """Delete one of the user's keys: it stops working at once."""
    db.session.delete(own_api_key(user, key_id))


def find_api_key(secret: str) -> tuple[ApiKey, User] | None:
    """The key a secret names and its owner, in one indexed query."""
    row = db.session.execute(
        select(ApiKey, User)
        .join(User, ApiKey.user_id == User.id)
        .where(ApiKey.key_hash == hash_api_key(secret))
        .options(joinedload(User.avatar_image))
    ).first()
    return None if row is None else (row[0], row[1])


def key_refusal(found: tuple[ApiKey, User] | None, now: datetime | None = None) -> str | None:
    """Why a key does not work (to tell its holder), or None when it does."""
    if found is None:
        return "This API key is unknown or was revoked; create one with POST /api/v1/me/api-keys."
    key, user = found
    if key.expires_at is not None and key.expires_at <= (now or utcnow()):
        return f"This API key expired at {key.expires_at.isoformat()}; create a new one."
    if not user.is_active:
        return "The account behind this API key is disabled."
    return None
