"""Account pages: register, confirm the address (with a button: mail scanners open links
too), log in and out, and send the confirmation mail again."""

from __future__ import annotations

from flask import flash, redirect, request
from werkzeug.wrappers import Response

from potluck.domain.errors import Conflict, Forbidden, Invalid, NotFound, Unauthenticated
from potluck.domain.transactions import commit
from potluck.http.limits import mail_allowed, strict_limit
from potluck.http.logins import AccountNotConfirmed, checked_login
from potluck.schemas.accounts import EmailSchema
from potluck.schemas.users import UserCreateSchema
from potluck.services.accounts import (
    account_to_confirm,
    confirm_account,
    register_user,
    request_activation_mail,
)
from potluck.web.base import page, safe_next, see_other, site
from potluck.web.forms import ActionForm, EmailForm, LoginForm, RegisterForm
from potluck.web.session import current_cook, sign_in, sign_out
from potluck.web.validation import form_status, loaded, refuse

_POST = ["POST"]
DEAD_CONFIRMATION_LINK = (
    "This confirmation link has expired or is not valid. Log in with your password and "
    "we will offer to mail you a new one."
)


@site.route("/account/login", methods=["GET", "POST"])
@strict_limit("LOGIN_RATE_LIMIT", "logins", _POST)
def login() -> Response:
    form = LoginForm()
    resend_form = None
    target = safe_next(request.args.get("next"))
    if current_cook() is not None and request.method == "GET":
        return redirect(target, code=303)
    if form.validate_on_submit():
        try:
            user = checked_login(form.login.data, form.password.data)
        except AccountNotConfirmed as unconfirmed:
            form.form_errors.append(unconfirmed.detail)
            resend_form = EmailForm(prefix="resend", formdata=None, email=unconfirmed.email)
        except (Unauthenticated, Forbidden) as refused:
            form.form_errors.append(refused.detail)
        else:
            sign_in(user)
            commit()  # a password rehash may be pending
            flash(f"Welcome back, {user.display_name or user.username}.", "success")
            return redirect(target, code=303)
    status = 422 if form.errors or form.form_errors else 200
    return page(
        "web/login.html",
        form=form,
        resend_form=resend_form,
        target=target,
        status=status,
        cache="no-store",
    )


@site.post("/account/logout")
def logout() -> Response:
    sign_out()
    commit()
    flash("You are logged out.", "success")
    return see_other("web.home")


@site.route("/account/register", methods=["GET", "POST"])
@strict_limit("REGISTRATION_RATE_LIMIT", "registrations from this address", _POST)
def register() -> Response:
    form = RegisterForm()
    if form.validate_on_submit():
        fields = ("username", "email", "password", "display_name")
        data = loaded(form, UserCreateSchema(), {name: form[name].data or "" for name in fields})
        if data is not None:
            try:
                user = register_user(**data)
                commit()  # a taken name or address surfaces here, from the database
            except Conflict as taken:
                refuse(form, taken.errors, taken.detail)
            else:
                flash(
                    f"Welcome to Potluck! We mailed a link to {user.email}: open it to "
                    "confirm your address, then log in.",
                    "success",
                )
                return see_other("web.login")
    return page("web/register.html", form=form, status=form_status(form), cache="no-store")


@site.route("/account/confirm/<token>", methods=["GET", "POST"])
def confirm(token: str) -> Response:
    """GET shows the button; only its POST confirms."""
    try:
        user = account_to_confirm(token)
    except Invalid:
        raise NotFound(DEAD_CONFIRMATION_LINK) from None
    except Conflict:
        raise Conflict(
            "This link was already used and your account is confirmed: log in."
        ) from None
    form = ActionForm()
    if form.validate_on_submit():
        confirm_account(token)
        commit()
        flash("Your address is confirmed. Log in to start cooking.", "success")
        return see_other("web.login")
    return page("web/confirm.html", form=form, user=user, cache="no-store")


@site.post("/account/confirmation-mail")
@strict_limit("ACCOUNT_MAIL_RATE_LIMIT", "mail requests")
def resend_confirmation() -> Response:
    form = EmailForm(prefix="resend")
    data = loaded(form, EmailSchema(), {"email": form.email.data or ""})
    if data is None:
        flash("That is not an email address; log in again to have the link sent.", "error")
        return see_other("web.login")
    if mail_allowed(data["email"]):
        request_activation_mail(data["email"])
    commit()
    flash(
        f"If {data['email']} has an account waiting for confirmation, a new link is on its way.",
        "success",
    )
    return see_other("web.login")
