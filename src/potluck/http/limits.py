"""Rate limits: the Flask-Limiter extension, its key, its headers and 429 answers, and the
per-account throttle on failed logins.

Counters live in Redis when REDIS_URL is set (shared by every instance), else in process.
While Redis is unreachable, Flask-Limiter counts in each process's memory (its documented
in-memory fallback) and asks Redis again now and then; what calls the counters directly
treats a storage error as "not counted" rather than failing the request.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, current_app, request
from flask_limiter import Limiter, RateLimitExceeded
from limits import RateLimitItem, parse
from limits.errors import StorageError
from sqlalchemy.exc import SQLAlchemyError

from potluck.domain.database import db
from potluck.http.auth import Identity, request_identity
from potluck.http.errors import abort, error_answer
from potluck.services.outages import Outage

DEFAULT_LIMITS = {
    # Every request, per signed-in user or else per client address.
    "READ_RATE_LIMIT": "600 per minute",
    "WRITE_RATE_LIMIT": "120 per minute",
    "LOGIN_RATE_LIMIT": "20 per minute",  # per client, any outcome
    "REGISTRATION_RATE_LIMIT": "10 per hour",
    "ACCOUNT_MAIL_RATE_LIMIT": "5 per hour",  # resend confirmation, password reset
    "IMPORT_RATE_LIMIT": "10 per minute",  # per user: each one makes the server fetch pages
    # Counted per account and client together: an attacker's failures slow the attacker,
    # never the account's owner on another address.
    "LOGIN_FAILURES_PER_ACCOUNT": "5 per 15 minutes",
    # Resent links and reset codes per mailbox, whoever asks: nobody can flood an inbox.
    "MAILS_PER_ADDRESS": "3 per hour",
}


def client_address() -> str:
    return request.remote_addr or "unknown"


def rate_limit_key() -> str:
    """The signed-in user (or API key), or else the client's address; a credential that
    does not check out counts against the address, and so does one the database cannot
    check just now."""
    try:
        identity = request_identity()
    except SQLAlchemyError:
        # Raised from here, Flask-Limiter would take it for its own storage failing and count
        # in memory. The request meets the database again in its view, answered there (503).
        db.session.rollback()
        return f"ip:{client_address()}"
    if isinstance(identity, Identity):
        return identity.rate_limit_key
    return f"ip:{client_address()}"


_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Content-addressed images and the docs' scripts are static files: not worth counting.
_UNCOUNTED_PREFIXES = ("/media/", "/api/v1/docs/assets/", "/static/")


def _general_limit() -> str:
    setting = "WRITE_RATE_LIMIT" if request.method in _WRITES else "READ_RATE_LIMIT"
    return str(current_app.config[setting])


def _uncounted() -> bool:
    return request.method == "OPTIONS" or request.path.startswith(_UNCOUNTED_PREFIXES)


limiter = Limiter(
    key_func=rate_limit_key,
    headers_enabled=False,
    application_limits=[_general_limit],
    application_limits_exempt_when=_uncounted,
)
# Errors of the counters' storage met outside Flask-Limiter's own checks (the few requests
# between Redis going away and Flask-Limiter switching to memory).
storage_outage = Outage(
    "Redis (rate limits)", "counting in this process's memory until Redis answers again"
)


def strict_limit(setting: str, what: str, methods: list[str] | None = None) -> Callable[[Any], Any]:
    """A limit named in the config, with a 429 detail that says what to do; only on
    `methods` when given (a page's GET shows the form its POST sends)."""
    return limiter.limit(
        lambda: str(current_app.config[setting]),
        error_message=f"Too many {what}; wait for the seconds in Retry-After, then try again.",
        methods=methods,
    )


def _failure_counter(account: str) -> tuple[RateLimitItem, str, str, str]:
    item = parse(current_app.config["LOGIN_FAILURES_PER_ACCOUNT"])
    return item, "login-failures", account.strip().lower(), client_address()


def refuse_throttled_login(account: str) -> None:
    """429 before the password is even checked, once this client failed too often here."""
    if not limiter.enabled:
        return
    item, *identifiers = _failure_counter(account)
    try:
        allowed = limiter.limiter.test(item, *identifiers)
        reset = 0.0 if allowed else limiter.limiter.get_window_stats(item, *identifiers).reset_time
    except StorageError as error:
        storage_outage.found(error)
        return
    if not allowed:
        abort(
            429,
            "Too many failed logins for this account; wait for the seconds in Retry-After, "
            "or reset the password with POST /api/v1/users/password-reset.",
            headers={"Retry-After": str(max(1, int(reset - time.time())))},
        )


def record_login_failure(account: str) -> None:
    if limiter.enabled:
        item, *identifiers = _failure_counter(account)
        try:
            limiter.limiter.hit(item, *identifiers)
        except StorageError as error:
            storage_outage.found(error)


def forget_login_failures(account: str) -> None:
    if limiter.enabled:
        item, *identifiers = _failure_counter(account)
        try:
            limiter.limiter.clear(item, *identifiers)
        except StorageError as error:
            storage_outage.found(error)


def mail_allowed(address: str) -> bool:
    """Counts a requested mail to `address`; False once that mailbox has had enough."""
    if not limiter.enabled:
        return True
    item = parse(current_app.config["MAILS_PER_ADDRESS"])
    try:
        return limiter.limiter.hit(item, "mails-to", address.lower())
    except StorageError as error:
        storage_outage.found(error)
        return True


def _rate_limit_headers(response: Response) -> Response:
    current = limiter.current_limit if limiter.enabled else None
    if current is not None:
        try:
            reset = max(0, int(current.reset_at - time.time()))
            remaining = current.remaining
        except StorageError as error:  # the counter is gone with Redis: no headers this time
            storage_outage.found(error)
            return response
        if response.status_code == 429 and "Retry-After" not in response.headers:
            response.headers["Retry-After"] = str(max(1, reset))
        if (request.blueprint or "").startswith("web"):
            return response  # a browser reads none of them: pages only say when to retry
        response.headers["RateLimit-Limit"] = str(current.limit.amount)
        response.headers["RateLimit-Remaining"] = str(remaining)
        response.headers["RateLimit-Reset"] = str(reset)
    return response


def _too_many_requests(error: RateLimitExceeded) -> Response:
    custom = error.limit.error_message if error.limit else None
    detail = (
        custom
        if isinstance(custom, str) and custom
        else (
            f"Too many requests: the limit is {error.description}. Wait for the seconds in "
            "Retry-After, then try again."
        )
    )
    return error_answer(429, detail)  # an HTML page for the site, problem+json elsewhere


def init_app(app: Flask) -> None:
    app.register_error_handler(RateLimitExceeded, _too_many_requests)
    for setting, value in DEFAULT_LIMITS.items():
        app.config.setdefault(setting, os.environ.get(setting, value))
    if app.config.get("REDIS_URL"):
        # Redis down: count in memory, per process, until Redis answers again (Flask-Limiter
        # pings it after 1, 2, 4... 32 s); any other storage error is logged, not a 500.
        app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
        app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
        app.config.setdefault(
            "RATELIMIT_STORAGE_OPTIONS",
            # StorageError, whatever the storage; a Redis that hangs costs a second.
            {"wrap_exceptions": True, "socket_connect_timeout": 1, "socket_timeout": 1},
        )
    limiter.init_app(app)
    app.after_request(_rate_limit_headers)
