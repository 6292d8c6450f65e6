"""The site's forms (Flask-WTF: every form carries its CSRF token). Lengths and patterns come
from the same rules the API's schemas apply; the domain has the last word."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):  # type: ignore[misc]
    login = StringField(
        "Username or email",
        validators=[DataRequired("Enter your username or email address."), Length(max=254)],
        render_kw={"autocomplete": "username", "autofocus": True},
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired("Enter your password."), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )
