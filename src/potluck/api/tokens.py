"""Tokens: log in (JSON or HTTP Basic), refresh with rotation, and revoke."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView
from flask_jwt_extended import decode_token
from marshmallow import ValidationError

from potluck.api.base import Blueprint
from potluck.domain.errors import Unauthenticated
from potluck.domain.models import User
from potluck.domain.transactions import commit
from potluck.http.auth import current_user, issue_tokens, revoke_current_token, revoke_token_claims
from potluck.http.errors import abort, flatten_errors
from potluck.http.idempotency import never_replayed
from potluck.http.limits import strict_limit
from potluck.http.logins import AccountNotConfirmed, checked_login
from potluck.schemas.users import CredentialsSchema, RevokeSchema, TokenSchema
from potluck.services.accounts import RESEND_HINT

blp = Blueprint("tokens", __name__, description="Log in, refresh and log out")


def _credentials() -> tuple[str, str]:
    basic = request.authorization
    if basic is not None and basic.type == "basic":
        return basic.username or "", basic.password or ""
    body = request.get_json(silent=True)
    if body is None:
        abort(
            400,
            "Send {email or username, password} as JSON, or use HTTP Basic auth.",
        )
    try:
        data = CredentialsSchema().load(body)
    except ValidationError as error:
        abort(
            400,
            "The credentials are incomplete.",
            errors=flatten_errors(error.messages_dict),
        )
    return data.get("email") or data["username"], data["password"]


@blp.route("/tokens")
class Tokens(MethodView):
    @blp.doc(
        requestBody={
            "required": False,
            "content": {
                "application/json": {
                    "schema": {
                        "allOf": [CredentialsSchema],
                        # One of the two login names, not empty.
                        "anyOf": [
                            {"required": ["email"], "properties": {"email": {"minLength": 1}}},
                            {
                                "required": ["username"],
                                "properties": {"username": {"minLength": 1}},
                            },
                        ],
                    }
                }
            },
            "description": "Or send the credentials with HTTP Basic auth instead.",
        },
        security=[{}, {"basicAuth": []}],
    )
    @blp.response(200, TokenSchema)
    @never_replayed
    @blp.alt_response(400, response="BAD_REQUEST", success=False)
    @blp.alt_response(401, response="UNAUTHORIZED", success=False)
    @blp.alt_response(403, response="FORBIDDEN", success=False)
    @blp.alt_response(429, response="TOO_MANY_REQUESTS", success=False)
    @strict_limit("LOGIN_RATE_LIMIT", "login attempts from this address")
    def post(self) -> dict[str, Any]:
        """Log in: get an access token and a refresh token"""
        user = _verified_user(*_credentials())
        tokens = issue_tokens(user)
        commit()  # a password rehash may be pending
        return tokens

    @blp.auth_required(api_key=False)
    @blp.arguments(RevokeSchema, required=False)
    @blp.response(204)
    def delete(self, data: dict[str, Any]) -> None:
        """Log out: revoke the access token (and a refresh token, if given)"""
        revoke_current_token()
        refresh = data.get("refresh_token") if data else None
        if refresh:
            claims = _decoded(refresh)
            if claims.get("type") != "refresh" or claims.get("sub") != str(current_user.id):
                abort(
                    400,
                    "refresh_token is not a refresh token of this account.",
                    errors={"refresh_token": ["Not a refresh token of this account."]},
                )
            revoke_token_claims(claims)
        commit()


def _verified_user(login: str, password: str) -> User:
    try:
        return checked_login(login, password)
    except AccountNotConfirmed as refused:
        abort(
            403,
            f"{refused.detail[:-1]}; lost it? {RESEND_HINT}.",
            type="/problems/unconfirmed-account",
            title="Account not confirmed",
        )
    except Unauthenticated as refused:
        abort(
            401,
            refused.detail,
            headers={"WWW-Authenticate": 'Basic realm="potluck", charset="UTF-8"'},
        )


def _decoded(token: str) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = decode_token(token, allow_expired=True)
    except Exception:
        abort(
            400,
            "refresh_token is not a valid token.",
            errors={"refresh_token": ["Not a valid token."]},
        )
    return claims


@blp.route("/tokens/refresh")
class TokenRefresh(MethodView):
    @blp.auth_required(refresh=True)
    @blp.response(200, TokenSchema)
    @never_replayed
    def post(self) -> dict[str, Any]:
        """Trade a refresh token for a new pair; the old refresh token stops working"""
        user: User = current_user
        revoke_current_token()
        tokens = issue_tokens(user)
        commit()
        return tokens
