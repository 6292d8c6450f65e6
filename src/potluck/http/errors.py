"""HTTP plumbing shared by every resource: JSON encoding and RFC 9457 problem responses."""

from __future__ import annotations

import io
import logging
import tempfile
from collections.abc import Mapping
from typing import Any, NoReturn

import flask_smorest
import orjson
from flask import Flask, Response, g, has_request_context, render_template, request
from flask.json.provider import JSONProvider
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wsgi import ClosingIterator

from potluck.domain.errors import (
    Busy,
    ConcurrentChange,
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    NotFound,
    PreconditionFailed,
    Unauthenticated,
)
from potluck.http.converters import IdConverter, UsernameConverter
from potluck.schemas.encoding import dumps_json

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
_CHUNK = 64 * 1024
_SPOOL_IN_MEMORY = 1024 * 1024

# Werkzeug's default descriptions address people at a browser; API clients get these.
_DETAILS = {
    404: "No resource lives at this URL. The API index is at /api/v1/openapi.json.",
    405: "This URL does not accept that method; the Allow header lists the ones it does.",
    413: "The request body is larger than this server accepts.",
    500: "The server hit an unexpected error. It has been logged; please try again later.",
}

# The same answers, for people at a browser.
_PAGE_DETAILS = {
    400: "Something in that request did not make sense to us. Go back and try again.",
    403: "This page belongs to someone else, so you cannot change it.",
    404: "We could not find that page. It may have moved, or it was never published.",
    405: "That page cannot be used this way. Go back and use the buttons on the page.",
    413: "That file or form is larger than we accept. Pick a smaller file and try again.",
    429: "Too many requests in a short time. Wait a moment, then try again.",
    500: "Something went wrong on our side. It has been logged; please try again later.",
    503: "Potluck is busy or down for maintenance. Please try again in a moment.",
}


class OrjsonProvider(JSONProvider):
    """Flask's JSON provider backed by orjson (faster and stricter than the stdlib)."""

    mimetype = "application/json"

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return dumps_json(obj).decode()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return orjson.loads(s)

    def response(self, *args: Any, **kwargs: Any) -> Response:
        obj = self._prepare_response_obj(args, kwargs)
        return Response(dumps_json(obj), mimetype=self.mimetype)


def abort(status: int, message: str, **kwargs: Any) -> NoReturn:
    """Stop the request with an error answered as problem+json (typed flask_smorest.abort)."""
    flask_smorest.abort(status, message=message, **kwargs)
    raise AssertionError("abort returned")  # pragma: no cover


def flatten_errors(messages: Mapping[str, Any], prefix: str = "") -> dict[str, list[str]]:
    """Turn marshmallow's nested messages into `{"field.sub": ["message", ...]}`."""
    flat: dict[str, list[str]] = {}
    for key, value in messages.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            flat.update(flatten_errors(value, name))
        elif isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            flat[name] = list(value)
        else:
            flat[name] = [str(value)]
    return flat


def problem(
    status: int,
    detail: str | None = None,
    *,
    title: str | None = None,
    type_: str = "about:blank",
    errors: Mapping[str, list[str]] | None = None,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> Response:
    """An `application/problem+json` response (RFC 9457)."""
    body: dict[str, Any] = {
        "type": type_,
        "title": title or HTTP_STATUS_CODES.get(status, "Error"),
        "status": status,
        "detail": detail or _DETAILS.get(status) or HTTP_STATUS_CODES.get(status, "Error"),
    }
    if errors:
        body["errors"] = dict(errors)
    body.update(extensions)
    if status >= 500 and has_request_context() and "request_id" in g:
        body["request_id"] = g.request_id  # to quote when reporting the failure
    response = Response(dumps_json(body), status=status, mimetype=PROBLEM_JSON)
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _validation_errors(data: Mapping[str, Any]) -> dict[str, list[str]] | None:
    if "errors" in data:
        return flatten_errors(data["errors"])
    messages = data.get("messages")
    if not isinstance(messages, Mapping):
        return None
    # webargs keys messages by location ("json", "query"); the field names are what matter.
    flat: dict[str, list[str]] = {}
    for location_messages in messages.values():
        if isinstance(location_messages, Mapping):
            flat.update(flatten_errors(location_messages))
    return flat


def wants_html() -> bool:
    if request.blueprint == "web":
        return True  # the site's own pages answer in HTML whatever the Accept header says
    if request.path.startswith("/api/"):
        return False
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return (
        best == "text/html"
        and request.accept_mimetypes[best] > request.accept_mimetypes["application/json"]
    )


def handle_http_exception(error: HTTPException) -> Response | Any:
    """The one error handler: problem+json for the API, an HTML page for browsers."""
    if error.response is not None:
        return error.response  # a complete answer was raised (e.g. a 304)
    status = error.code or 500
    if status >= 500:
        original = getattr(error, "original_exception", None)
        if original is not None:
            log.error("unhandled exception", exc_info=original)
        if isinstance(error, InternalServerError):
            error = InternalServerError()  # never echo internals
    data: Mapping[str, Any] = getattr(error, "data", None) or {}
    headers = {
        name: value
        for name, value in error.get_headers()
        if name.lower() not in {"content-type", "content-length"}
    }
    headers.update(data.get("headers") or {})
    detail = data.get("message") or (
        error.description if status not in _DETAILS and error.description else None
    )
    if "messages" in data and not data.get("message"):
        detail = "The request is invalid; see errors for each field."
    extra = {k: v for k, v in data.items() if k in {"type", "title"}}
    return error_answer(
        status,
        detail,
        errors=_validation_errors(data),
        headers=headers,
        type_=extra.get("type", "about:blank"),
        title=extra.get("title"),
    )


def error_answer(
    status: int,
    detail: str | None,
    *,
    errors: Mapping[str, list[str]] | None = None,
    headers: Mapping[str, str] | None = None,
    type_: str = "about:blank",
    title: str | None = None,
) -> Response:
    """problem+json for the API and for clients, an HTML page for browsers."""
    if wants_html():
        if not detail or detail in _DETAILS.values():
            detail = _PAGE_DETAILS.get(status, HTTP_STATUS_CODES.get(status, "Error"))
        html = render_template(
            "web/error.html",
            status=status,
            title=HTTP_STATUS_CODES.get(status, "Error"),
            detail=detail,
            errors=errors or {},
            chrome_anonymous=True,
        )
        response = Response(html, status=status, mimetype="text/html")
        response.headers.update(headers or {})
        response.headers["Cache-Control"] = "no-store"
        return response
    return problem(status, detail, errors=errors, headers=headers, type_=type_, title=title)


_DOMAIN_STATUS: dict[type[DomainError], int] = {
    Invalid: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    PreconditionFailed: 412,
    Busy: 503,
}


def handle_domain_error(error: DomainError) -> Response:
    """The domain's errors, answered like every other error (one place for both forms)."""
    headers: dict[str, str] = {}
    if isinstance(error, ConcurrentChange):
        # A client that sent If-Match asked for exactly this check; one that did not, lost a race.
        status = 412 if "If-Match" in request.headers else 409
    else:
        status = next(code for kind, code in _DOMAIN_STATUS.items() if isinstance(error, kind))
    if isinstance(error, PreconditionFailed) and error.current_etag:
        headers["ETag"] = error.current_etag
    if isinstance(error, Unauthenticated):
        headers["WWW-Authenticate"] = 'Bearer realm="potluck", error="invalid_token"'
    if isinstance(error, Busy):
        headers["Retry-After"] = "1"
    return error_answer(status, error.detail, errors=error.errors, headers=headers)


class BearerSchemeCaseFold:
    """WSGI middleware: auth scheme names are case-insensitive (RFC 9110, 11.1), but
    Flask-JWT-Extended only knows `Bearer`."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        header = environ.get("HTTP_AUTHORIZATION", "")
        if header[:7].lower() == "bearer " and not header.startswith("Bearer "):
            environ["HTTP_AUTHORIZATION"] = "Bearer " + header[7:]
        return self.app(environ, start_response)


class BoundedBody:
    """WSGI middleware: a chunked body (which has no length) is read here, up to one byte
    past MAX_CONTENT_LENGTH, and then handed on with its length. Werkzeug would otherwise
    stop reading at the limit and parse the prefix (a JSON document followed by padding was
    stored); now anything longer is a 413 when the body is read, however it was framed."""

    def __init__(self, app: Any, flask_app: Flask) -> None:
        self.app = app
        self.config = flask_app.config

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if "chunked" not in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            return self.app(environ, start_response)
        limit = self.config["MAX_CONTENT_LENGTH"]
        body = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115
        size = 0
        while size <= limit and (
            chunk := environ["wsgi.input"].read(min(_CHUNK, limit + 1 - size))
        ):
            body.write(chunk)
            size += len(chunk)
        body.seek(0)
        environ["wsgi.input"] = body if size <= limit else io.BytesIO()
        # The body now has a length, as behind a buffering proxy; past the limit, Werkzeug
        # answers its own 413 when the body is read.
        environ["CONTENT_LENGTH"] = str(size)
        del environ["HTTP_TRANSFER_ENCODING"]
        return ClosingIterator(self.app(environ, start_response), body.close)


def init_app(app: Flask) -> None:
    app.json = OrjsonProvider(app)
    # Before any blueprint is registered: every `<int:...>` id in the app is canonical.
    app.url_map.converters["int"] = IdConverter
    app.url_map.converters["username"] = UsernameConverter
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(DomainError, handle_domain_error)
    app.wsgi_app = BearerSchemeCaseFold(app.wsgi_app)  # type: ignore[method-assign]
    app.wsgi_app = BoundedBody(app.wsgi_app, app)  # type: ignore[method-assign]
