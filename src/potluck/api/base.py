"""flask-smorest tuned to the contract: 400 for invalid input, 415 for non-JSON bodies,
problem+json documented for every error, and the bearer auth scheme."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import flask_smorest
import marshmallow as ma
import orjson
from flask import Flask
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import HTTPException

from potluck.domain.users import RESERVED_USERNAMES, USERNAME_PATTERN
from potluck.http.auth import authenticate
from potluck.http.converters import UsernameConverter
from potluck.http.errors import PROBLEM_JSON, abort, handle_http_exception
from potluck.http.reads import Read, answer
from potluck.schemas.fields import (
    MAX_LINE_LENGTH,
    MAX_LINES,
    MAX_TAG_LENGTH,
    MAX_TAGS,
    Lines,
    Tags,
    Text,
)

BEARER_SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}]
# What every read's answer carries (http.reads), and a list page besides.
_READ_HEADERS = {
    "ETag": {
        "schema": {"type": "string"},
        "description": "Strong; send it back in If-None-Match (304 while current), or in "
        "If-Match when you write the resource (412 if it changed since)",
    },
    "Cache-Status": {
        "schema": {"type": "string"},
        "description": "RFC 9211: whether the server cache had the answer (hit) or not, "
        "where it was asked (never for account data)",
    },
}
_LINK_HEADER = {
    "Link": {
        "schema": {"type": "string"},
        "description": "RFC 8288 page links; in cursor mode rel=next carries the next cursor",
    }
}


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details."""

    type = ma.fields.String(metadata={"description": "URI naming the problem type"})
    title = ma.fields.String()
    status = ma.fields.Integer()
    detail = ma.fields.String(metadata={"description": "What went wrong and what to do"})
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        metadata={"description": "Messages per field, for invalid input"},
    )
    request_id = ma.fields.String(
        metadata={"description": "The request's X-Request-ID, to quote when reporting a 5xx"}
    )

    class Meta:
        unknown = ma.INCLUDE  # RFC 9457 allows extension members (a 429's retry_after...)


class ArgumentsParser(FlaskParser):
    DEFAULT_VALIDATION_STATUS = 400
    # None lets each schema decide, and ours raise: an unknown query parameter is a 400.
    DEFAULT_UNKNOWN_BY_LOCATION = {  # noqa: RUF012 - webargs' own class attribute
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": None,
        "querystring": None,
    }

    def load_json(self, req: Any, schema: ma.Schema) -> Any:
        # A body the client sent in another format is refused, not silently ignored.
        has_body = req.content_length or req.headers.get("Transfer-Encoding")
        if has_body and not req.is_json:
            abort(
                415,
                f"Send the body as application/json (got {req.mimetype or 'none'}).",
                headers={f"Accept-{req.method.title()}": "application/json"},
            )
        if not req.is_json or not (body := req.get_data(cache=True)):
            return ma.missing
        # orjson, not webargs' stdlib json: it refuses nesting past 1,024 levels and strings
        # that are not Unicode text (lone surrogate escapes) instead of failing later.
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as error:
            abort(400, f"The body is not valid JSON: {error}.")

    def load_querystring(self, req: Any, schema: ma.Schema) -> Any:
        try:
            parse_qsl(req.query_string.decode(), keep_blank_values=True, errors="strict")
        except UnicodeDecodeError:
            abort(400, "The query string is not valid UTF-8 once percent-decoded.")
        repeated = {
            name: ["Give this parameter once."]
            for name, values in req.args.lists()
            if len(values) > 1 and not isinstance(schema.fields.get(name), ma.fields.List)
        }
        if repeated:
            abort(400, "Some query parameters were given more than once.", errors=repeated)
        return super().load_querystring(req, schema)


class Blueprint(flask_smorest.Blueprint):  # type: ignore[misc]
    """smorest's Blueprint with our arguments parser, bearer authentication, and reads
    declared once (`read`)."""

    ARGUMENTS_PARSER = ArgumentsParser()

    def read(
        self, schema: Any, *, paged: bool = False, **documentation: Any
    ) -> Callable[[Any], Any]:
        """A GET whose view returns a `Read` (http.reads): answered by the one read path
        (ETag, 304, server cache, replay, Cache-Control) and documented as answering
        `schema`; a `paged` list also documents its RFC 8288 `Link` header."""

        def decorator(view: Any) -> Any:
            @functools.wraps(view)
            def answered(*args: Any, **kwargs: Any) -> Any:
                declared = view(*args, **kwargs)
                return answer(declared) if isinstance(declared, Read) else declared

            headers = {**_READ_HEADERS, **(_LINK_HEADER if paged else {})}
            return self.response(200, schema, headers=headers, **documentation)(answered)

        return decorator

    def auth_required(
        self, *, optional: bool = False, refresh: bool = False, api_key: bool = True
    ) -> Callable[[Any], Any]:
        """Bearer authentication (a JWT, or an API key where `api_key`), enforced and
        documented in one place; the credential is checked once a request (http.auth)."""

        def decorator(view: Any) -> Any:
            @functools.wraps(view)
            def guarded(*args: Any, **kwargs: Any) -> Any:
                authenticate(optional=optional, refresh=refresh, api_key=api_key)
                return view(*args, **kwargs)

            guarded.requires_identity = not optional  # type: ignore[attr-defined]
            security = BEARER_SECURITY + ([{}] if optional else [])
            documented = self.doc(security=security)(guarded)
            return self.alt_response(401, response="UNAUTHORIZED", success=False)(documented)

        return decorator


_HEADER_PARAMETERS = {
    "IfNoneMatch": ("If-None-Match", "ETags of copies you hold: 304 if one is current"),
    "IfModifiedSince": ("If-Modified-Since", "HTTP date: 304 if unchanged since"),
    "IfMatch": ("If-Match", "ETag you last read: 412 if the resource changed since"),
    "IdempotencyKey": ("Idempotency-Key", "Retries with the same key get the first answer"),
}
# What the server accepts in them: anything else is a 400.
_HEADER_SCHEMAS: dict[str, dict[str, Any]] = {
    "IdempotencyKey": {
        "type": "string",
        "minLength": 1,
        "maxLength": 255,
        "pattern": r"^[\x21-\x7e]+$",
    },
}
# The writes that compare If-Match with the resource's ETag (412 when it is stale).
_CONDITIONAL_WRITES = re.compile(r"^/api/v1/(recipes/\{recipe_id\}(/publish|/cover)?|me)$")
# Which header parameters and answers each method adds to every operation.
_RULES = {
    "get": (["IfNoneMatch", "IfModifiedSince"], {"304": "NOT_MODIFIED"}),
    "post": (
        ["IdempotencyKey"],
        {
            "409": "CONFLICT",
            "415": "UNSUPPORTED_MEDIA_TYPE",
            "413": "REQUEST_ENTITY_TOO_LARGE",
            "422": "UNPROCESSABLE_ENTITY",
        },
    ),
    "put": (["IfMatch"], {"412": "PRECONDITION_FAILED", "409": "CONFLICT"}),
    "patch": (["IfMatch"], {"412": "PRECONDITION_FAILED", "409": "CONFLICT"}),
    "delete": (["IfMatch"], {"412": "PRECONDITION_FAILED", "409": "CONFLICT"}),
}


# Characters the server keeps in text (potluck.schemas.fields.clean_text), as patterns.
_LINE = r"[^\x00-\x1f\x7f]"  # no control characters, tabs and line breaks included
_TEXT = r"[^\x00-\x08\x0b-\x1f\x7f]"  # multiline text: tabs and line feeds allowed
_LINES = r"[^\x00-\x09\x0e-\x1b\x1f\x7f]"  # one string of lines: any line break between
_VISIBLE = r"[^\s\x00-\x1f\x7f]"
_TAG = rf"\w[\w '&+-]{{0,{MAX_TAG_LENGTH - 1}}}"


def _required_text(field: ma.fields.Field[Any]) -> bool:
    return any(isinstance(v, ma.validate.Length) and (v.min or 0) >= 1 for v in field.validators)


def text_and_list_properties(
    converter: Any, field: ma.fields.Field[Any], **kwargs: Any
) -> dict[str, Any]:
    """What our own fields accept: text without control characters (and with something
    besides spaces where it is required), lines and tags as a list or as one string."""
    if isinstance(field, Text):
        allowed = _TEXT if field.multiline else _LINE
        if _required_text(field):
            return {"pattern": f"^{allowed}*{_VISIBLE}{allowed}*$"}
        return {"pattern": f"^{allowed}*$"}
    if isinstance(field, Tags):
        # Blank names are dropped, so only the name between the spaces has a length limit.
        item = {"type": "string", "pattern": f"^ *({_TAG})? *$"}
        return {"type": "array", "items": item, "maxItems": MAX_TAGS}
    if not isinstance(field, Lines):
        return {}
    line: dict[str, Any] = {
        "type": "string",
        "maxLength": MAX_LINE_LENGTH,
        "pattern": f"^{_LINE}*$",
    }
    # One line of the string form is as long as a line may be (longer ones are two items).
    whole = {"type": "string", "pattern": f"^{_LINES}*$", "maxLength": MAX_LINE_LENGTH}
    return {
        "oneOf": [
            {"type": "array", "items": line, "maxItems": MAX_LINES},
            {**whole, "description": "The same as one string, one item per line"},
        ]
    }


def username_parameter(converter: UsernameConverter) -> dict[str, Any]:
    return {
        "type": "string",
        "pattern": f"^{USERNAME_PATTERN}$",
        "description": f"Never one of {', '.join(sorted(RESERVED_USERNAMES))}",
    }


class Api(flask_smorest.Api):  # type: ignore[misc]
    ERROR_SCHEMA = ProblemSchema
    DEFAULT_RESPONSE_CONTENT_TYPE = "application/json"

    def _register_error_handlers(self) -> None:
        self._app.register_error_handler(HTTPException, handle_http_exception)

    def _register_responses(self) -> None:
        super()._register_responses()
        # Error responses are problem+json; smorest documents them as plain JSON.
        responses = self.spec.components.responses_lazy
        for response in (*responses.values(), *self.spec.components.responses.values()):
            content = response.get("content", {})
            if "application/json" in content and "schema" in content["application/json"]:
                content[PROBLEM_JSON] = content.pop("application/json")

    def document_http_rules(self) -> None:
        """Add what every endpoint honours (conditional requests, idempotency, 406, 500) to
        each operation of the OpenAPI document, once the resources are registered."""
        for path, operations in self.spec._paths.items():
            for method, operation in operations.items():
                if method not in _RULES:
                    continue  # path-level "parameters", not an operation
                headers, answers = _RULES[method]
                if "/tokens" in path:
                    headers, answers = [], {}  # logins are neither replayed nor versioned
                parameters = operation.setdefault("parameters", [])
                present = {
                    str(p.get("name") or p.get("$ref", "")).rsplit("/", 1)[-1].replace("_", "-")
                    for p in parameters
                }
                parameters.extend(
                    {
                        "in": "header",
                        "name": _HEADER_PARAMETERS[name][0],
                        "description": _HEADER_PARAMETERS[name][1],
                        "schema": _HEADER_SCHEMAS.get(name, {"type": "string"}),
                    }
                    for name in headers
                    if _HEADER_PARAMETERS[name][0].upper() not in {h.upper() for h in present}
                    and (name != "IfMatch" or _CONDITIONAL_WRITES.match(path))
                )
                responses = operation.setdefault("responses", {})
                for status, component in {
                    **answers,
                    "406": "NOT_ACCEPTABLE",
                    "429": "TOO_MANY_REQUESTS",
                    "500": "INTERNAL_SERVER_ERROR",
                }.items():
                    responses.setdefault(
                        status, self.spec.components.get_ref("response", component)
                    )

    def init_app(self, app: Flask, *args: Any, **kwargs: Any) -> None:
        super().init_app(app, *args, **kwargs)
        # What our own fields and converters accept, so the document says what the server does.
        self.register_field(ma.fields.URL, "string", "uri")
        self.ma_plugin.converter.add_attribute_function(text_and_list_properties)
        self.register_converter(UsernameConverter, username_parameter)
        self.spec.components.security_scheme(
            "bearerAuth",
            {
                "type": "http",
                "scheme": "bearer",
                "description": (
                    "The access_token from POST /api/v1/tokens, or an API key (pk_...) from "
                    "POST /api/v1/me/api-keys where the operation allows keys; never in the URL"
                ),
            },
        )
        self.spec.components.security_scheme(
            "basicAuth",
            {"type": "http", "scheme": "basic", "description": "Only to log in (POST /tokens)"},
        )
