"""What every answer carries: a request id, security headers, a Cache-Control, `Vary`,
gzip when it pays, and 406 when the client accepts nothing an endpoint produces."""

from __future__ import annotations

import gzip
import logging
import os
import re
import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, has_request_context, request

from potluck.domain.preconditions import GZIP_SUFFIX
from potluck.http.errors import PROBLEM_JSON, abort, wants_html

F = TypeVar("F", bound=Callable[..., Any])

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_COMPRESSIBLE = (
    "application/json",
    "application/ld+json",
    PROBLEM_JSON,
    "text/",
    "application/javascript",
)
GZIP_MIN_BYTES = 1024
JSON_ONLY = ("application/json",)

_CSP_API = "default-src 'none'; frame-ancestors 'none'"
_CSP_PAGE = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
# Swagger UI starts itself from an inline script.
_CSP_DOCS = _CSP_PAGE.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")


def produces(*mimetypes: str) -> Callable[[F], F]:
    """Declare the media types a view can answer with, besides JSON (e.g. text/csv)."""

    def decorator(view: F) -> F:
        view.media_types = (*JSON_ONLY, *mimetypes)  # type: ignore[attr-defined]
        return view

    return decorator


def view_attribute(name: str, default: Any) -> Any:
    """An attribute a decorator set on the view (or MethodView method) serving this request."""
    view = current_app.view_functions.get(request.endpoint or "")
    view_class = getattr(view, "view_class", None)
    verb = "get" if request.method == "HEAD" else request.method.lower()  # HEAD runs GET
    method = getattr(view_class, verb, None) if view_class else view
    return getattr(method, name, default)


def _view_media_types() -> tuple[str, ...]:
    media_types: tuple[str, ...] = view_attribute("media_types", JSON_ONLY)
    return media_types


def negotiated_type() -> str:
    """The media type to answer with; 406 when the client accepts none we produce."""
    offered = _view_media_types()
    if not request.headers.get("Accept"):
        return offered[0]
    best = request.accept_mimetypes.best_match(offered)
    if best is None:
        abort(
            406,
            f"This resource is available as {', '.join(offered)}; send an Accept "
            "header that allows one of them.",
        )
    return best


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):  # a replay (hot_reads.py) names its own
            record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


access_log = logging.getLogger("potluck.access")
# The URL rule that answered, for the access log and the metrics (operations.py); a replay
# (hot_reads.py) sets the one it stored.
ROUTE_KEY = "potluck.route"
UNMATCHED_ROUTE = "<unmatched>"


def request_id_for(given: str) -> str:
    """The client's X-Request-ID when it is short and plain (it goes to logs), else a new one."""
    return given if _REQUEST_ID.match(given) else os.urandom(16).hex()


# app.extensions key: endpoints whose browser requests are sent to a page of the site (the
# API's root alias of a recipe), so a browser's Accept is the site's business, not a 406.
BROWSER_REDIRECTS = "potluck.browser_redirects"


def send_browsers_elsewhere(app: Flask, endpoint: str) -> None:
    app.extensions.setdefault(BROWSER_REDIRECTS, set()).add(endpoint)


def _start() -> None:
    g.started = time.perf_counter()
    g.request_id = request_id_for(request.headers.get("X-Request-ID", ""))
    if request.blueprint and not request.blueprint.startswith(("web", "docs_assets", "api-docs")):
        if request.endpoint in current_app.extensions.get(BROWSER_REDIRECTS, ()) and wants_html():
            return
        negotiated_type()


def _gzip(response: Response) -> None:
    mimetype = response.mimetype or ""
    if (
        response.direct_passthrough
        or response.is_streamed
        or not mimetype.startswith(_COMPRESSIBLE)
    ):
        return
    if response.status_code != 200 or "Content-Encoding" in response.headers:
        return
    body = response.get_data()
    if len(body) < GZIP_MIN_BYTES:
        return
    response.vary.add("Accept-Encoding")
    if request.accept_encodings["gzip"] <= 0 or "Range" in request.headers:
        return
    response.set_data(gzip.compress(body, compresslevel=5, mtime=0))
    response.headers["Content-Encoding"] = "gzip"
    etag = response.headers.get("ETag")
    if etag and etag.endswith('"'):
        response.headers["ETag"] = etag[:-1] + GZIP_SUFFIX + '"'


def _finish(response: Response) -> Response:
    headers = response.headers
    headers["X-Request-ID"] = g.get("request_id", "")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    # A 304 has no body of its own: it takes the policy of what it stands for.
    page = response.mimetype == "text/html" and (
        response.status_code != 304 or (request.blueprint or "").startswith("web")
    )
    if page:
        docs = request.endpoint == "api-docs.openapi_swagger_ui"
        headers.setdefault("Content-Security-Policy", _CSP_DOCS if docs else _CSP_PAGE)
    else:
        headers.setdefault("Content-Security-Policy", _CSP_API)
    if current_app.config["HSTS_SECONDS"]:
        headers.setdefault(
            "Strict-Transport-Security", f"max-age={current_app.config['HSTS_SECONDS']}"
        )
    if "Cache-Control" not in headers:
        # Personal answers are never stored; anonymous reads may be, but are revalidated.
        personal = "Authorization" in request.headers or request.method not in {"GET", "HEAD"}
        headers["Cache-Control"] = "no-store" if personal else "public, no-cache"
    if response.status_code in {204, 304}:
        headers.pop("Content-Type", None)  # no content, so no type either
    if request.blueprint and not request.blueprint.startswith("web"):
        # Every API answer (a 304 too) may differ by credentials and by content coding.
        response.vary.update(("Authorization", "Accept-Encoding"))
    if len(_view_media_types()) > 1:
        response.vary.add("Accept")
    _gzip(response)
    route = request.url_rule.rule if request.url_rule is not None else UNMATCHED_ROUTE
    request.environ[ROUTE_KEY] = route
    if current_app.config["ACCESS_LOG"]:
        log_access(
            request.remote_addr,
            request.method,
            request.full_path.rstrip("?"),
            response.status_code,
            response.calculate_content_length() or 0,
            g.get("started", time.perf_counter()),
            g.get("request_id", "-"),
            route,
        )
    return response


def log_access(
    address: str | None,
    method: str,
    path: str,
    status: int,
    length: int,
    started: float,
    request_id: str,
    route: str,
) -> None:
    elapsed = (time.perf_counter() - started) * 1000
    # The fields again as fields, for LOG_FORMAT=json.
    fields = {"method": method, "route": route, "path": path, "status": status, "bytes": length}
    access_log.info(
        '%s "%s %s" %s %d %.1fms',
        *(address, method, path, status, length, elapsed),
        extra={
            "request_id": request_id,
            **fields,
            "duration_ms": round(elapsed, 1),
            "client": address,
        },
    )


def init_app(app: Flask) -> None:
    app.before_request(_start)
    app.after_request(_finish)
