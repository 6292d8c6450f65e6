"""The web site: server-rendered pages on the same app and data as the API.

Pages call the domain and services (never the API's handlers), sign people in with a cookie
session tied to the account's session state, protect every form against CSRF, and turn the
domain's errors into HTML pages (the one error handler in `http.errors` answers in HTML for
the site's blueprint)."""

from __future__ import annotations

from flask import Flask

from potluck.web import (
    accounts,
    api_keys,
    editor,
    home,
    listings,
    my_recipes,
    passwords,
    profile,
    recipe_actions,
    recipes,
    session,
)
from potluck.web.base import csrf, site

__all__ = [
    "accounts",
    "api_keys",
    "editor",
    "home",
    "init_app",
    "listings",
    "my_recipes",
    "passwords",
    "profile",
    "recipe_actions",
    "recipes",
]


def init_app(app: Flask) -> None:
    # The API authenticates with bearer credentials, never cookies: only the site's forms
    # need a CSRF token (checked in `base`, for the site's blueprint alone).
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    # A session ends when its own expiry (web.session) says; the cookie is not written again
    # on every page, so a page that changed nothing in it can be replayed to it (hot_reads).
    app.config["SESSION_REFRESH_EACH_REQUEST"] = False
    csrf.init_app(app)
    session.init_app(app)
    recipes.init_app(app)  # after the session's hooks: a redirect may depend on who asks
    app.register_blueprint(site)
