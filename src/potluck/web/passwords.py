"""Password pages: forgot (a link by mail), reset with that link, and change. A new password
ends every session of the account; a change keeps this browser signed in."""

from __future__ import annotations

from flask import flash
from werkzeug.wrappers import Response

from potluck.domain.errors import Forbidden, Invalid, NotFound
from potluck.domain.models import User
from potluck.domain.transactions import commit
from potluck.http.limits import mail_allowed, strict_limit
from potluck.schemas.accounts import EmailSchema, PasswordChangeSchema, PasswordResetSchema
from potluck.services.accounts import (
    account_to_reset,
    change_password,
    request_password_reset,
    reset_password,
)
from potluck.web.base import login_required, page, see_other, site
from potluck.web.forms import ChangePasswordForm, EmailForm, ResetPasswordForm
from potluck.web.session import current_cook, sign_in
from potluck.web.validation import form_status, loaded, refuse

_POST = ["POST"]
DEAD_RESET_LINK = (
    "This link has expired or was already used, so your password is unchanged. "
    "Ask for a new link on the “Forgot your password?” page."
)


@site.route("/account/forgot", methods=["GET", "POST"])
@strict_limit("ACCOUNT_MAIL_RATE_LIMIT", "mail requests", _POST)
def forgot_password() -> Response:
    form = EmailForm()
    if form.validate_on_submit():
        data = loaded(form, EmailSchema(), {"email": form.email.data or ""})
        if data is not None:
            if mail_allowed(data["email"]):
                request_password_reset(data["email"])
            commit()
            # The same answer for any address: nobody learns who has an account.
            flash(
                f"If {data['email']} belongs to an account, a link to choose a new password "
                "is on its way. It works once, for a short while.",
                "success",
            )
            return see_other("web.login")
    return page("web/forgot.html", form=form, status=form_status(form), cache="no-store")


@site.route("/account/reset/<token>", methods=["GET", "POST"], endpoint="reset_password")
@strict_limit("ACCOUNT_MAIL_RATE_LIMIT", "password reset attempts", _POST)
def reset_password_page(token: str) -> Response:
    try:
        user = account_to_reset(token)
    except Invalid:
        raise NotFound(DEAD_RESET_LINK) from None
    form = ResetPasswordForm()
    if form.validate_on_submit():
        data = loaded(
            form, PasswordResetSchema(), {"token": token, "password": form.password.data or ""}
        )
        if data is not None:
            reset_password(data["token"], data["password"])
            commit()
            flash("Your password is changed, and every session was logged out. Log in.", "success")
            return see_other("web.login")
    return page("web/reset.html", form=form, user=user, status=form_status(form), cache="no-store")


@site.route("/account/password", methods=["GET", "POST"], endpoint="change_password")
@login_required
def change_password_page() -> Response:
    user: User = current_cook()  # type: ignore[assignment]
    form = ChangePasswordForm()
    if form.validate_on_submit():
        fields = {name: form[name].data or "" for name in ("current_password", "new_password")}
        data = loaded(form, PasswordChangeSchema(), fields)
        if data is not None:
            try:
                change_password(user, data["current_password"], data["new_password"])
            except Forbidden:
                refuse(form, {"current_password": ["This is not your current password."]})
            else:
                sign_in(user)  # every session ended; this browser starts a new one
                commit()
                flash("Your password is changed; your other sessions were logged out.", "success")
                return see_other("web.profile")
    return page("web/password.html", form=form, status=form_status(form), cache="no-store")
