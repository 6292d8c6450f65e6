"""Passwords (argon2id): hashing with the configured cost, checking a login as slowly for
an unknown account as for a real one, upgrading old hashes at login; and ending every
session of an account."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import select

from potluck.domain.database import db
from potluck.domain.models import User

Result = TypeVar("Result")
# How much less CPU a hash may take than a read when both want it (Linux nice, 0-19):
# measured, 5 keeps reads' p99 within 5 % while 4 connections log in at 30/s (README).
HASHING_NICENESS = 5
_hashing: dict[int, ThreadPoolExecutor] = {}
_hashing_lock = threading.Lock()


def _lower_priority() -> None:
    # Linux sets a niceness per thread; elsewhere the hash runs at the usual priority.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHING_NICENESS)


def off_the_read_path(work: Callable[[], Result]) -> Result:
    """Run an argon2 hash in this process's hashing thread, at a lower CPU priority, so a
    storm of logins takes the CPU that reads leave over rather than theirs (argon2 releases
    the GIL while it works). The calling request waits; the server's other threads go on."""
    pid = os.getpid()  # a forked worker starts its own thread
    with _hashing_lock:
        executor = _hashing.get(pid)
        if executor is None:
            executor = ThreadPoolExecutor(1, "argon2", initializer=_lower_priority)
            _hashing[pid] = executor
    return executor.submit(work).result()


def password_hasher() -> PasswordHasher:
    config = current_app.config
    return PasswordHasher(
        time_cost=config["ARGON2_TIME_COST"],
        memory_cost=config["ARGON2_MEMORY_COST"],
        parallelism=config["ARGON2_PARALLELISM"],
    )


def hash_password(password: str) -> str:
    hasher = password_hasher()
    return off_the_read_path(lambda: hasher.hash(password))


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
    stored = user.password_hash if user else _dummy_hash(hasher)
    try:
        off_the_read_path(lambda: hasher.verify(stored, password))
    except (VerificationError, InvalidHashError):
        return None
    if user is None:
        return None
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = off_the_read_path(lambda: hasher.hash(password))
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
