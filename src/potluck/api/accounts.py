"""Account life cycle: confirm by mailed link, resend it, reset or change the password."""

from __future__ import annotations

from typing import Any

from flask import redirect, url_for
from flask.views import MethodView
from werkzeug.wrappers import Response as BaseResponse

from potluck.api.base import Blueprint
from potluck.domain.errors import Invalid, NotFound
from potluck.domain.models import User
from potluck.domain.transactions import commit
from potluck.http.auth import current_user, issue_tokens
from potluck.http.errors import wants_html
from potluck.http.headers import produces
from potluck.http.limits import mail_allowed, strict_limit
from potluck.schemas.accounts import (
    ActivationSchema,
    EmailSchema,
    PasswordChangeSchema,
    PasswordResetSchema,
)
from potluck.schemas.users import TokenSchema
from potluck.services.accounts import (
    change_password,
    confirm_account,
    request_activation_mail,
    request_password_reset,
    reset_password,
)

blp = Blueprint("accounts", __name__, description="Confirming an account, passwords")

_ACCEPTED = {"description": "Accepted: a mail is on its way if the address has an account"}
_mail_limit = strict_limit("ACCOUNT_MAIL_RATE_LIMIT", "mail requests")
_LIMITED = {"response": "TOO_MANY_REQUESTS", "success": False}


@blp.route("/users/activate")
class Activation(MethodView):
    @blp.arguments(ActivationSchema)
    @blp.response(204)
    @blp.alt_response(400, response="BAD_REQUEST", success=False)
    @blp.alt_response(409, response="CONFLICT", success=False)
    def post(self, data: dict[str, Any]) -> None:
        """Confirm an account with the token from the mailed link"""
        confirm_account(data["token"])
        commit()


@blp.route("/users/activate/<string:token>")
class ActivationLink(MethodView):
    @blp.response(204)
    @blp.alt_response(404, response="NOT_FOUND", success=False)
    @blp.alt_response(409, response="CONFLICT", success=False)
    @produces("text/html")
    def get(self, token: str) -> BaseResponse | None:
        """The mailed link: confirms the account for clients (204); a browser is sent to the
        site's page, which confirms only with its button (mail scanners open links too)"""
        if wants_html():
            return redirect(url_for("web.confirm", token=token), code=303)
        try:
            confirm_account(token)
        except Invalid as invalid:
            raise NotFound(invalid.detail, errors=invalid.errors) from None  # a dead link
        commit()
        return None


@blp.route("/users/activation-email")
class ActivationEmail(MethodView):
    @_mail_limit
    @blp.arguments(EmailSchema)
    @blp.response(202, **_ACCEPTED)
    @blp.alt_response(429, **_LIMITED)
    def post(self, data: dict[str, Any]) -> None:
        """Send the confirmation link again (the same answer for any address)"""
        if mail_allowed(data["email"]):
            request_activation_mail(data["email"])
        commit()


@blp.route("/users/password-reset")
class PasswordReset(MethodView):
    @_mail_limit
    @blp.arguments(EmailSchema)
    @blp.response(202, **_ACCEPTED)
    @blp.alt_response(429, **_LIMITED)
    def post(self, data: dict[str, Any]) -> None:
        """Mail a password reset code (the same answer for any address)"""
        if mail_allowed(data["email"]):
            request_password_reset(data["email"])
        commit()


@blp.route("/users/password-reset/complete")
class PasswordResetCompletion(MethodView):
    @strict_limit("ACCOUNT_MAIL_RATE_LIMIT", "password reset attempts")
    @blp.arguments(PasswordResetSchema)
    @blp.response(204)
    @blp.alt_response(400, response="BAD_REQUEST", success=False)
    @blp.alt_response(429, **_LIMITED)
    def post(self, data: dict[str, Any]) -> None:
        """Set a new password with the mailed code; every session is logged out"""
        reset_password(data["token"], data["password"])
        commit()


@blp.route("/me/password")
class Password(MethodView):
    @blp.auth_required(api_key=False)
    @blp.arguments(PasswordChangeSchema)
    @blp.response(200, TokenSchema)
    @blp.alt_response(403, response="FORBIDDEN", success=False)
    def put(self, data: dict[str, Any]) -> dict[str, Any]:
        """Change the password: other sessions are logged out, this one gets new tokens"""
        user: User = current_user
        change_password(user, data["current_password"], data["new_password"])
        tokens = issue_tokens(user)
        commit()
        return tokens
