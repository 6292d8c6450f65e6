"""Account pages: log in and log out (sessions in `web.session`)."""

from __future__ import annotations

from flask import flash, redirect, request
from werkzeug.wrappers import Response

from potluck.domain.errors import Forbidden, Unauthenticated
from potluck.domain.transactions import commit
from potluck.http.logins import checked_login
from potluck.web.base import page, safe_next, see_other, site
from potluck.web.forms import LoginForm
from potluck.web.session import current_cook, sign_in, sign_out


@site.route("/account/login", methods=["GET", "POST"])
def login() -> Response:
    form = LoginForm()
    target = safe_next(request.args.get("next"))
    if current_cook() is not None and request.method == "GET":
        return redirect(target, code=303)
    if form.validate_on_submit():
        try:
            user = checked_login(form.login.data, form.password.data)
        except (Unauthenticated, Forbidden) as refused:
            form.form_errors.append(refused.detail)
        else:
            sign_in(user)
            commit()  # a password rehash may be pending
            flash(f"Welcome back, {user.display_name or user.username}.", "success")
            return redirect(target, code=303)
    status = 422 if form.errors or form.form_errors else 200
    return page("web/login.html", form=form, target=target, status=status, cache="no-store")


@site.post("/account/logout")
def logout() -> Response:
    sign_out()
    commit()
    flash("You are logged out.", "success")
    return see_other("web.home")
