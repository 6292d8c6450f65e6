"""The site's forms (Flask-WTF: every form carries its CSRF token). Fields are named after the
API's schema fields, and validated by those same schemas (web.validation), so the rules of
the site and the API cannot drift; the domain has the last word."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    DateField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    StringField,
    TextAreaField,
    URLField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional


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


class EmailForm(FlaskForm):  # type: ignore[misc]
    """An address to mail a link to (the confirmation again, or a password reset)."""

    email = EmailField("Email", render_kw={"autocomplete": "email"})


class RegisterForm(FlaskForm):  # type: ignore[misc]
    username = StringField("Username", render_kw={"autocomplete": "username"})
    email = EmailField("Email", render_kw={"autocomplete": "email"})
    password = PasswordField("Password", render_kw={"autocomplete": "new-password"})
    display_name = StringField("Display name", render_kw={"autocomplete": "name"})


class ResetPasswordForm(FlaskForm):  # type: ignore[misc]
    password = PasswordField("New password", render_kw={"autocomplete": "new-password"})


class ChangePasswordForm(FlaskForm):  # type: ignore[misc]
    current_password = PasswordField(
        "Current password", render_kw={"autocomplete": "current-password"}
    )
    new_password = PasswordField("New password", render_kw={"autocomplete": "new-password"})


class ProfileForm(FlaskForm):  # type: ignore[misc]
    display_name = StringField("Display name", render_kw={"autocomplete": "name"})
    bio = TextAreaField("About you")
    avatar = FileField("Avatar", render_kw={"accept": "image/jpeg,image/png,image/webp,image/gif"})


class ApiKeyForm(FlaskForm):  # type: ignore[misc]
    name = StringField("Name")
    scope = RadioField(
        "Scope",
        choices=[
            SelectChoice("read", "Read: look things up only"),
            SelectChoice("write", "Write: change things too"),
        ],
        default="read",
    )
    expires_at = DateField("Expires on", validators=[Optional()])


class RecipeForm(FlaskForm):  # type: ignore[misc]
    # The version the form was loaded at: a save over someone else's change is refused.
    version = HiddenField()
    name = StringField("Name")
    description = TextAreaField("Description")
    num_of_servings = IntegerField("Servings", validators=[Optional()])
    prep_time = IntegerField("Prep time (minutes)", validators=[Optional()])
    cook_time = IntegerField("Cook time (minutes)", validators=[Optional()])
    ingredients = TextAreaField("Ingredients")
    directions = TextAreaField("Directions")
    tags = StringField("Tags")
    source_url = URLField("Source URL")


class CoverForm(FlaskForm):  # type: ignore[misc]
    image = FileField(
        "Cover image", render_kw={"accept": "image/jpeg,image/png,image/webp,image/gif"}
    )


class ImportForm(FlaskForm):  # type: ignore[misc]
    url = URLField("Link to a recipe page", render_kw={"placeholder": "https://"})


class ActionForm(FlaskForm):  # type: ignore[misc]
    """A button that changes something: nothing but its CSRF token."""
