"""Account schemas: confirmation, resending mail, password reset and change."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from potluck.schemas.fields import StrictSchema
from potluck.schemas.users import new_password, normalized_email


def _token(description: str) -> fields.String:
    return fields.String(
        required=True,
        validate=validate.Length(1, 1024),
        metadata={"description": description},
    )


class ActivationSchema(StrictSchema):
    token = _token("The token from the mailed link")


class EmailSchema(StrictSchema):
    email = fields.Email(required=True)

    @ma.post_load
    def _normalize_email(self, data: dict[str, object], **kwargs: object) -> dict[str, object]:
        data["email"] = normalized_email(str(data["email"]))
        return data


class PasswordResetSchema(StrictSchema):
    token = _token("The code from the reset mail")
    password = new_password()


class PasswordChangeSchema(StrictSchema):
    current_password = fields.String(
        required=True, load_only=True, validate=validate.Length(max=1024)
    )
    new_password = new_password()
