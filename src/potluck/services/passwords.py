"""Passwords (argon2id): hashing with the configured cost, checking a login as slowly for
an unknown account as for a real one, upgrading old hashes at login; and ending every
session of an account."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import select

from potluck.domain.database import db
from potluck.domain.models import User


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


def _dummy_hash(hasher: PasswordHasher) -> str:
    key = (hasher.time_cost, hasher.memory_cost, hasher.parallelism)
    cache: dict[tuple[int, int, int], str] = current_app.extensions.setdefault(
        "potluck_dummy_hash", {}
    )
    if key not in cache:
        cache[key] = hasher.hash("not the password of anybody")
    return cache[key]


def end_all_sessions(user: User) -> None:
    """Every token issued to the user so far stops working (API keys are not sessions)."""
    user.session_generation += 1
