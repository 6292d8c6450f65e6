"""Passwords (argon2id) and JWT bearer tokens: issuing, loading the user, revocation (one
token, or every session of a user), reuse detection for refresh tokens, and 401 answers with
`WWW-Authenticate` for every way a token can be wrong."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NoReturn

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, Response, current_app, g
from flask_jwt_extended import (
    create_access_token,
    create_refresh_token,
    get_current_user,
    get_jwt,
)
from sqlalchemy import select

from .extensions import db, jwt
from .http import abort, problem
from .models import RevokedToken, User


def password_hasher() -> PasswordHasher:
    config = current_app.config
    return PasswordHasher(
        time_cost=config["ARGON2_TIME_COST"],
        memory_cost=config["ARGON2_MEMORY_COST"],
        parallelism=config["ARGON2_PARALLELISM"],
    )


def hash_password(password: str) -> str:
    return password_hasher().hash(password)


def find_login_user(login: str) -> User | None:
    """The account a login name (username in any case, or email) names, if any."""
    login = login.strip()
    column = User.email if "@" in login else db.func.lower(User.username)
    # A NUL byte cannot be in any account name (PostgreSQL refuses it in text): nobody.
    if "\x00" in login:
        return None
    user: User | None = db.session.scalar(select(User).where(column == login.lower()))
    return user


def verify_login(user: User | None, password: str) -> User | None:
    """`user` if the password is theirs, or None; as slow for no user as for a real one."""
    hasher = password_hasher()
    try:
        hasher.verify(user.password_hash if user else _dummy_hash(hasher), password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None:
        return None
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    return user


def authenticate(login: str, password: str) -> User | None:
    """The user with these credentials, or None; as slow for unknown users as for known ones."""
    return verify_login(find_login_user(login), password)


def _dummy_hash(hasher: PasswordHasher) -> str:
    key = (hasher.time_cost, hasher.memory_cost, hasher.parallelism)
    cache: dict[tuple[int, int, int], str] = current_app.extensions.setdefault(
        "potluck_dummy_hash", {}
    )
    if key not in cache:
        cache[key] = hasher.hash("not the password of anybody")
    return cache[key]


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
    if db.session.get(RevokedToken, claims["jti"]) is None:
        expires_at = datetime.fromtimestamp(claims["exp"], UTC)
        db.session.add(RevokedToken(jti=claims["jti"], expires_at=expires_at))


def revoke_current_token() -> None:
    revoke_token_claims(get_jwt())


def end_all_sessions(user: User) -> None:
    """Every token issued to the user so far stops working (API keys are not sessions)."""
    user.session_generation += 1


def _reused_refresh_token(claims: dict[str, Any]) -> bool:
    # Rotated away (or logged out), yet presented again: a copy of it is in other hands.
    if claims.get("type") != "refresh":
        return False
    user: User | None = db.session.get(User, int(claims["sub"]))
    return (
        user is not None
        and user.session_generation == claims.get("gen")
        and db.session.get(RevokedToken, claims["jti"]) is not None
    )


def current_user_or_none() -> User | None:
    """The authenticated user of an optional-auth endpoint, if a token was sent."""
    user: User | None = get_current_user() if get_jwt() else None
    return user


def _challenge(detail: str, error: str | None = "invalid_token") -> str:
    challenge = 'Bearer realm="potluck"'
    if error:
        challenge += f', error="{error}", error_description="{detail}"'
    return challenge


def _unauthorized(detail: str, error: str | None = "invalid_token") -> Response:
    return problem(401, detail, headers={"WWW-Authenticate": _challenge(detail, error)})


def refuse(detail: str) -> NoReturn:
    """Stop with a 401 bearer challenge, for credentials that are not JWTs (API keys)."""
    abort(401, detail, headers={"WWW-Authenticate": _challenge(detail)})


def init_app(app: Flask) -> None:
    @jwt.user_lookup_loader
    def _load_user(header: dict[str, Any], claims: dict[str, Any]) -> User | None:
        user: User | None = db.session.get(User, int(claims["sub"]))
        if user is None or not user.is_active:
            return None
        g.authenticated_user_id = user.id
        return user

    @jwt.token_in_blocklist_loader
    def _is_revoked(header: dict[str, Any], claims: dict[str, Any]) -> bool:
        # The database is shared by every worker and instance, so all of them agree.
        user: User | None = db.session.get(User, int(claims["sub"]))
        if user is not None and user.session_generation != claims.get("gen"):
            return True
        return db.session.get(RevokedToken, claims["jti"]) is not None

    @jwt.unauthorized_loader
    def _missing(reason: str) -> Response:
        return _unauthorized(
            "Log in first: send 'Authorization: Bearer <access_token>' "
            "(get one from POST /api/v1/tokens).",
            error=None,
        )

    @jwt.invalid_token_loader
    def _invalid(reason: str) -> Response:
        return _unauthorized("The token is malformed or its signature is wrong; log in again.")

    @jwt.expired_token_loader
    def _expired(header: dict[str, Any], claims: dict[str, Any]) -> Response:
        return _unauthorized(
            "The token has expired; refresh it with POST /api/v1/tokens/refresh or log in again."
        )

    @jwt.revoked_token_loader
    def _revoked(header: dict[str, Any], claims: dict[str, Any]) -> Response:
        if _reused_refresh_token(claims):
            user: User = db.session.get_one(User, int(claims["sub"]))
            end_all_sessions(user)
            db.session.commit()
            return _unauthorized(
                "This refresh token was already used, so it may have been stolen: every session "
                "of this account has been revoked; log in again."
            )
        return _unauthorized("The token has been revoked; log in again.")

    @jwt.user_lookup_error_loader
    def _gone(header: dict[str, Any], claims: dict[str, Any]) -> Response:
        return _unauthorized("The account behind this token no longer exists or is disabled.")

    @jwt.token_verification_failed_loader
    def _failed(header: dict[str, Any], claims: dict[str, Any]) -> Response:
        return _unauthorized("The token was refused; log in again.")

    @jwt.needs_fresh_token_loader
    def _stale(header: dict[str, Any], claims: dict[str, Any]) -> Response:
        return _unauthorized("This action needs a fresh login: POST /api/v1/tokens again.")

    del app  # loaders are registered on the JWTManager bound in create_app
