"""Who a request is: its bearer credential (a JWT, or an API key) checked once, with the
account and its revocation state learned in one indexed query, memoized for the request
(the rate limiter, the idempotency check and the view all ask). Also issuing and revoking
tokens, reuse detection for refresh tokens, and 401 answers with `WWW-Authenticate` for
every way a credential can be wrong."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn, cast

import jwt as pyjwt
from flask import Flask, current_app, g, request
from flask_jwt_extended import JWTManager, create_access_token, create_refresh_token, decode_token
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload
from werkzeug.local import LocalProxy

from potluck.domain.api_keys import KEY_PREFIX, find_api_key, key_refusal
from potluck.domain.database import db
from potluck.domain.models import RevokedToken, User
from potluck.http.errors import abort
from potluck.services.passwords import end_all_sessions

jwt = JWTManager()

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_INVALID = "The token is malformed or its signature is wrong; log in again."


@dataclass(frozen=True, slots=True)
class Identity:
    """A caller whose credential checked out: the account, and what the credential says."""

    user: User
    kind: str  # "access", "refresh" or "api_key"
    claims: dict[str, Any]  # the JWT's claims; for an API key, its id and scope

    @property
    def rate_limit_key(self) -> str:
        return f"key:{self.claims['key_id']}" if self.kind == "api_key" else f"user:{self.user.id}"


@dataclass(frozen=True, slots=True)
class Refusal:
    """A credential that did not check out, and the 401 it gets where one is required."""

    detail: str
    error: str | None = "invalid_token"

    def answer(self) -> NoReturn:
        abort(401, self.detail, headers={"WWW-Authenticate": challenge(self.detail, self.error)})


def challenge(detail: str, error: str | None = "invalid_token") -> str:
    value = 'Bearer realm="potluck"'
    if error:
        value += f', error="{error}", error_description="{detail}"'
    return value


def _bearer_credential() -> str | None:
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    credential = credential.strip()
    return credential if scheme.lower() == "bearer" and credential else None


def request_identity() -> Identity | Refusal | None:
    """The request's caller (None when it sent no bearer credential), checked once."""
    if "identity" not in g:
        credential = _bearer_credential()
        if credential is None:
            g.identity = None
        elif credential.startswith(KEY_PREFIX):
            g.identity = _api_key_identity(credential)
        else:
            g.identity = _token_identity(credential)
    found: Identity | Refusal | None = g.identity
    return found


def _api_key_identity(secret: str) -> Identity | Refusal:
    found = find_api_key(secret)
    refusal = key_refusal(found)
    if found is None or refusal is not None:
        return Refusal(refusal or "")
    key, user = found
    return Identity(user, "api_key", {"key_id": key.id, "scope": key.scope})


class VerifiedTokens:
    """Tokens whose signature and claims checked out, by their exact text, so a client that
    sends one token with every request costs one HMAC per process, not one per request.
    Expiry is checked again on every use; revocation is the database's business."""

    def __init__(self, max_entries: int = 4096) -> None:
        self.max_entries = max_entries
        self.claims: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.lock = threading.Lock()

    def known(self, token: str) -> dict[str, Any] | None:
        """The claims of a token verified before and not expired yet, without decoding."""
        with self.lock:
            claims = self.claims.get(token)
        return claims if claims is not None and claims["exp"] > time.time() else None

    def claims_of(self, token: str) -> dict[str, Any]:
        """The token's claims; raises as `decode_token` does (needs the app context)."""
        with self.lock:
            claims = self.claims.get(token)
        if claims is None:
            claims = decode_token(token)
            with self.lock:
                self.claims[token] = claims
                while len(self.claims) > self.max_entries:
                    self.claims.popitem(last=False)
        elif claims["exp"] <= time.time():
            raise pyjwt.ExpiredSignatureError("Signature has expired")
        return claims


def verified_tokens(app: Flask) -> VerifiedTokens:
    """The app's own memo (each app has its own secret)."""
    memo: VerifiedTokens = app.extensions["potluck_verified_tokens"]
    return memo


def _token_identity(token: str) -> Identity | Refusal:
    try:
        claims = verified_tokens(current_app).claims_of(token)
    except pyjwt.ExpiredSignatureError:
        return Refusal(
            "The token has expired; refresh it with POST /api/v1/tokens/refresh or log in again.",
        )
    except Exception:  # any other way a token can fail to verify: forged, damaged, alg none
        return Refusal(_INVALID)
    if claims.get("type") not in {"access", "refresh"} or not str(claims.get("sub", "")).isdigit():
        return Refusal(_INVALID)
    found = account_and_revocation(int(claims["sub"]), claims["jti"])
    if found is None:
        return Refusal("The account behind this token no longer exists or is disabled.")
    user, revoked = found
    if user.session_generation != claims.get("gen"):
        return Refusal("The token has been revoked; log in again.")
    if revoked:
        if claims["type"] == "refresh":
            # Rotated away (or logged out), yet presented again: a copy is in other hands.
            end_all_sessions(user)
            db.session.commit()
            return Refusal(
                "This refresh token was already used, so it may have been stolen: every session "
                "of this account has been revoked; log in again.",
            )
        return Refusal("The token has been revoked; log in again.")
    return Identity(user, claims["type"], claims)


# Where a site session (web.session) keeps its account: [user id, session generation,
# session id, expiry as a Unix time]; the replay (hot_reads) reads it too.
SESSION_ACCOUNT_KEY = "account"


def well_formed_session(held: Any) -> bool:
    """Whether `held` is a site session's account entry, as SESSION_ACCOUNT_KEY describes."""
    return (
        isinstance(held, list)
        and len(held) == 4
        and all(isinstance(part, int) for part in held[:2])
        and isinstance(held[2], str)
        and isinstance(held[3], int | float)
    )


# Built once: building it costs about as much as SQLite takes to run it.
_ACCOUNT_AND_REVOCATION = (
    select(User, select(RevokedToken.jti).where(RevokedToken.jti == bindparam("jti")).exists())
    .where(User.id == bindparam("user_id"))
    .options(joinedload(User.avatar_image))  # every answer showing the author needs it
)


def account_and_revocation(user_id: int, jti: str) -> tuple[User, bool] | None:
    """An active account and whether the credential `jti` was revoked, in one indexed query
    (a token's, or a web session's)."""
    row = db.session.execute(_ACCOUNT_AND_REVOCATION, {"user_id": user_id, "jti": jti}).first()
    if row is None or not row[0].is_active:
        return None
    return row[0], row[1]


def revoke_credential(jti: str, expires_at: datetime) -> None:
    """Refuse the token or web session `jti` from now on, everywhere (the row is shared)."""
    if db.session.get(RevokedToken, jti) is None:
        db.session.add(RevokedToken(jti=jti, expires_at=expires_at))


def authenticate(*, optional: bool, refresh: bool, api_key: bool) -> Identity | None:
    """The caller a view requires (or allows, when `optional`), or an error answer."""
    identity = request_identity()
    if identity is None:
        if optional:
            return None
        Refusal(
            "Log in first: send 'Authorization: Bearer <access_token>' "
            "(get one from POST /api/v1/tokens).",
            error=None,
        ).answer()
    if isinstance(identity, Refusal):
        identity.answer()
    if identity.kind == "api_key":
        if not api_key or refresh:
            Refusal("API keys cannot be used here; log in with POST /api/v1/tokens.").answer()
        if identity.claims["scope"] == "read" and request.method not in SAFE_METHODS:
            abort(
                403, "This API key may only read; create a key with the write scope to change data."
            )
    elif (identity.kind == "refresh") != refresh:
        wanted = "a refresh token" if refresh else "an access token"
        Refusal(f"This needs {wanted}; {_INVALID.split('; ')[1]}").answer()
    g.authenticated = identity
    return identity


def _signed_in_user() -> User:
    identity: Identity | None = g.get("authenticated")
    if identity is None:
        raise RuntimeError("current_user outside an authenticated view")
    return identity.user


# The signed-in user of an authenticated view.
current_user: User = cast(User, LocalProxy(_signed_in_user))


def current_user_or_none() -> User | None:
    """The authenticated user of an optional-auth view, if a credential was sent."""
    identity: Identity | None = g.get("authenticated")
    return identity.user if identity else None


def current_claims() -> dict[str, Any]:
    identity: Identity | None = g.get("authenticated")
    return identity.claims if identity else {}


def issue_tokens(user: User) -> dict[str, Any]:
    identity = str(user.id)
    expires = current_app.config["JWT_ACCESS_TOKEN_EXPIRES"]
    claims = {"gen": user.session_generation}
    return {
        "access_token": create_access_token(identity=identity, additional_claims=claims),
        "refresh_token": create_refresh_token(identity=identity, additional_claims=claims),
        "token_type": "Bearer",
        "expires_in": int(expires.total_seconds()),
    }


def revoke_token_claims(claims: dict[str, Any]) -> None:
    revoke_credential(claims["jti"], datetime.fromtimestamp(claims["exp"], UTC))


def revoke_current_token() -> None:
    revoke_token_claims(current_claims())


def _forget_the_last_caller() -> None:
    # g outlives a request when an app context is held around several (a test's, a CLI's).
    g.pop("identity", None)
    g.pop("authenticated", None)


def init_app(app: Flask) -> None:
    """Before the rate limiter, which asks who the caller is (JWTManager is bound in
    create_app)."""
    app.extensions["potluck_verified_tokens"] = VerifiedTokens()
    app.before_request(_forget_the_last_caller)
