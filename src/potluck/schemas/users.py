"""User schemas: registration, profile update, public and private views, credentials."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from potluck.domain.users import RESERVED_USERNAMES, USERNAME_PATTERN
from potluck.schemas.fields import StrictSchema, Text
from potluck.schemas.images import ImageUrls, LargeImageUrl

MAX_EMAIL_LENGTH = 254


def new_password(**kwargs: object) -> fields.String:
    return fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(8, 128, error="Between 8 and 128 characters."),
        **kwargs,  # type: ignore[arg-type]
    )


def normalized_email(value: str) -> str:
    # Checked after lowercasing: some characters grow ("İ".lower() is two characters).
    email = value.strip().lower()
    if len(email) > MAX_EMAIL_LENGTH:
        raise ma.ValidationError(f"At most {MAX_EMAIL_LENGTH} characters.", "email")
    return email


class UserCreateSchema(StrictSchema):
    username = Text(
        required=True,
        validate=validate.Regexp(
            f"^{USERNAME_PATTERN}$",
            error="3-30 characters: letters, digits, '_', '.' or '-', starting with a "
            "letter or digit.",
        ),
    )
    email = fields.Email(required=True)
    password = new_password()
    display_name = Text(load_default="", validate=validate.Length(max=80))

    @ma.validates("username")
    def _not_reserved(self, value: str, **kwargs: object) -> None:
        if value.lower() in RESERVED_USERNAMES:
            raise ma.ValidationError("This name is taken by the site itself; choose another.")

    @ma.post_load
    def _normalize_email(self, data: dict[str, object], **kwargs: object) -> dict[str, object]:
        data["email"] = normalized_email(str(data["email"]))
        return data


class ProfileUpdateSchema(StrictSchema):
    display_name = Text(validate=validate.Length(max=80))
    bio = Text(multiline=True, validate=validate.Length(max=500))


class AuthorSchema(ma.Schema):
    id = fields.Integer(dump_only=True)
    username = fields.String(dump_only=True)
    avatar_url = LargeImageUrl(
        attribute="avatar_hash", metadata={"description": "The large size of the avatar"}
    )
    avatar = ImageUrls(
        attribute="avatar_hash", metadata={"description": "The avatar at every size"}
    )


class UserSchema(AuthorSchema):
    display_name = fields.String(dump_only=True)
    bio = fields.String(dump_only=True)
    created_at = fields.AwareDateTime(dump_only=True)


class PrivateUserSchema(UserSchema):
    email = fields.String(dump_only=True)
    updated_at = fields.AwareDateTime(dump_only=True)


class CredentialsSchema(StrictSchema):
    """`{email | username, password}`; HTTP Basic is accepted instead of a body."""

    email = fields.String(validate=validate.Length(max=254))
    username = fields.String(validate=validate.Length(max=254))
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=1024))

    @ma.validates_schema
    def _one_login_name(self, data: dict[str, object], **kwargs: object) -> None:
        if not data.get("email") and not data.get("username"):
            raise ma.ValidationError("Give an email or a username.", "email")


class TokenSchema(ma.Schema):
    access_token = fields.String()
    refresh_token = fields.String()
    token_type = fields.String()
    expires_in = fields.Integer(metadata={"description": "Seconds until the access token expires"})


class RevokeSchema(StrictSchema):
    refresh_token = fields.String(
        validate=validate.Length(max=4096),
        metadata={"description": "Also revoke this refresh token"},
    )
