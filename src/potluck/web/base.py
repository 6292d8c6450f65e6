"""What every page shares: the blueprint, CSRF on every form, and how a page is answered
(the cache rules of DESIGN.md: public pages get a strong ETag and 304s, signed-in views are
private, account pages are never stored)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import BadRequest

from potluck.http.conditional import etag_for_bytes
from potluck.web.session import current_cook

site = Blueprint("web", __name__)
csrf = CSRFProtect()

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
View = TypeVar("View", bound=Callable[..., Any])


@site.before_request
def _protect_forms() -> None:
    if request.method not in SAFE_METHODS and current_app.config["WTF_CSRF_ENABLED"]:
        try:
            csrf.protect()
        except CSRFError as refused:
            raise BadRequest(
                "This form has expired or did not come from this site, so nothing was done. "
                "Go back, reload the page and send it again."
            ) from refused


def page(
    template: str,
    *,
    status: int = 200,
    cache: str = "auto",
    etag: str | None = None,
    **context: Any,
) -> Response:
    """A rendered page with the cache rules for who is looking.

    `cache`: "auto" (public with an ETag for anonymous visitors, private for the signed in),
    "private" (depends on the session even when anonymous), or "no-store" (account pages).
    `etag`: the public page's ETag when the view knew it before rendering (from a version),
    else it is made from the bytes (a private page's always is: it differs by session)."""
    html = render_template(template, **context).encode()
    response = Response(html, status=status, mimetype="text/html")
    response.vary.add("Cookie")
    if cache == "no-store" or status >= 400:
        response.headers["Cache-Control"] = "no-store"
    else:
        private = cache == "private" or current_cook() is not None
        response.headers["Cache-Control"] = f"{'private' if private else 'public'}, no-cache"
        response.set_etag((etag if etag and not private else etag_for_bytes(html)).strip('"'))
        response.make_conditional(request)
    return response


def see_other(endpoint: str, **values: Any) -> Response:
    """Post/redirect/get: a form's answer is a 303 to the page that shows the result."""
    return redirect(url_for(endpoint, **values), code=303)  # type: ignore[return-value]


def safe_next(target: str | None, default: str = "/") -> str:
    """Where to go after logging in: only a path on this site (no open redirect)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


def login_required(view: View) -> View:
    """Send an anonymous visitor to the login page, and back here afterwards."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_cook() is None:
            here = request.full_path.rstrip("?")
            target = here if request.method in SAFE_METHODS else request.referrer
            return redirect(url_for("web.login", next=safe_next(target)), code=303)
        return view(*args, **kwargs)

    return cast(View, wrapper)
