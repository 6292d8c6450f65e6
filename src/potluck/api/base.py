"""flask-smorest tuned to the contract: 400 for invalid input, 415 for non-JSON bodies,
problem+json documented for every error, and the bearer auth scheme."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import flask_smorest
import marshmallow as ma
from flask import Flask
from flask_jwt_extended import jwt_required
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import HTTPException

from ..api_keys import bearer_api_key, sign_in_with_api_key
from ..auth import refuse
from ..http import PROBLEM_JSON, abort, handle_http_exception

BEARER_SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}]


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
                headers={"Accept-Post": "application/json"},
            )
        return super().load_json(req, schema)

    def _handle_invalid_json_error(
        self, error: Exception, req: Any, *args: Any, **kwargs: Any
    ) -> Any:
        abort(400, f"The body is not valid JSON: {error}.")


class Blueprint(flask_smorest.Blueprint):  # type: ignore[misc]
    ARGUMENTS_PARSER = ArgumentsParser()

    def auth_required(
        self, *, optional: bool = False, refresh: bool = False, api_key: bool = True
    ) -> Callable[[Any], Any]:
        """Bearer authentication (a JWT, or an API key where `api_key`), enforced and
        documented in one place."""

        def decorator(view: Any) -> Any:
            with_jwt = jwt_required(optional=optional, refresh=refresh)(view)

            @functools.wraps(view)
            def guarded(*args: Any, **kwargs: Any) -> Any:
                key = bearer_api_key()
                if key is None:
                    return with_jwt(*args, **kwargs)
                if not api_key or refresh:
                    refuse("API keys cannot be used here; log in with POST /api/v1/tokens.")
                sign_in_with_api_key(key)
                return view(*args, **kwargs)

            security = BEARER_SECURITY + ([{}] if optional else [])
            documented = self.doc(security=security)(guarded)
            return self.alt_response(401, response="UNAUTHORIZED", success=False)(documented)

        return decorator


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

    def init_app(self, app: Flask, *args: Any, **kwargs: Any) -> None:
        super().init_app(app, *args, **kwargs)
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
