"""Who is signed in to the site: a cookie session (HttpOnly, SameSite=Lax, Secure under HTTPS)
that names the account, its session generation and a session id. It is checked on every
request against the database in the same single query as a bearer token, so logging out (the
session id revoked), a password change or a reset (the generation raised) ends it on every
instance at once."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from typing import Any

from flask import Flask, current_app, g, request, session
from flask.sessions import SecureCookieSessionInterface

from potluck.domain.models import User
from potluck.http.auth import (
    SESSION_ACCOUNT_KEY,
    account_and_revocation,
    revoke_credential,
    well_formed_session,
)

_KEY = SESSION_ACCOUNT_KEY


class SiteSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, marked Secure whenever the request came over HTTPS
    (behind the trusted proxy too), not only when configured."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


def sign_in(user: User) -> None:
    """Start a session for `user` (a new session id: no fixation of an earlier cookie)."""
    session.clear()
    session.permanent = True
    lifetime = current_app.permanent_session_lifetime.total_seconds()
    expires = time.time() + lifetime
    session[_KEY] = [user.id, user.session_generation, secrets.token_hex(16), expires]
    g.cook = user


def sign_out() -> None:
    """End this session here and on every instance (its id is refused from now on)."""
    held: Any = session.get(_KEY)
    if well_formed_session(held):
        revoke_credential(held[2], datetime.fromtimestamp(held[3], UTC))
    session.clear()
    g.cook = None


def current_cook() -> User | None:
    """The signed-in account of this request, or None; checked once per request."""
    if "cook" not in g:
        g.cook = _checked_session()
    cook: User | None = g.cook
    return cook


def _checked_session() -> User | None:
    held = session.get(_KEY) if request.cookies else None
    if held is None:
        return None
    if not well_formed_session(held) or held[3] < time.time():
        session.pop(_KEY, None)
        return None
    found = account_and_revocation(held[0], held[2])
    if found is None or found[1] or found[0].session_generation != held[1]:
        session.pop(_KEY, None)  # logged out elsewhere, password changed, account gone
        return None
    return found[0]


def _forget_the_last_visitor() -> None:
    # g outlives a request when an app context is held around several (a test's).
    g.pop("cook", None)


def init_app(app: Flask) -> None:
    app.session_interface = SiteSessionInterface()
    app.before_request(_forget_the_last_visitor)
    app.context_processor(lambda: {"current_cook": current_cook})  # called by the layout
