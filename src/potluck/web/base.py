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

from potluck.http.reads import Built, Read, answer
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


def page(template: str, *, status: int = 200, cache: str = "auto", **context: Any) -> Response:
    """A rendered page with the cache rules for who is looking.

    `cache`: "auto" (public for anonymous visitors, private for the signed in), "private"
    (depends on the session even when anonymous), or "no-store" (account pages, and any
    page that answers an error)."""
    if cache == "no-store" or status >= 400:
        html = render_template(template, **context)
        response = Response(html, status=status, mimetype="text/html")
        response.vary.add("Cookie")
        response.headers["Cache-Control"] = "no-store"
        return response
    return answer(page_read(template, lambda: context, private=cache == "private"))


def page_read(
    template: str,
    context: Callable[[], dict[str, Any]],
    *,
    private: bool = False,
    version: str | None = None,
    shared: bool = False,
) -> Read:
    """A page as the one read path answers it (http.reads), rendered only when needed.

    Private for a signed-in visitor (the page shows their session) or when `private`;
    else public, with its ETag from `version` when the view knows what the page is made
    of before rendering it, kept in the server cache and replayed to the next visitor
    when `shared` (the page is the same for every anonymous visitor). A signed-in
    visitor's shared page is replayed to that same session only (http.hot_reads)."""
    private = private or current_cook() is not None
    return Read(
        lambda: Built(render_template(template, **context()).encode()),
        "text/html",
        audience="private" if private else "public",
        version=None if private else version,
        headers={"Vary": "Cookie"},
        shared=shared and not private,
        replay=shared,
    )


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
