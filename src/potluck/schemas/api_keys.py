"""API key schemas: what a client sends to create one, and what it sees."""

from __future__ import annotations

from datetime import UTC, datetime

import marshmallow as ma
from marshmallow import fields, validate

from potluck.domain.models import utcnow
from potluck.schemas.fields import StrictSchema, Text

# Any later instant may not fit the database's timestamp once it is converted to UTC.
LATEST_EXPIRY = datetime(9999, 1, 1, tzinfo=UTC)


class ApiKeyCreateSchema(StrictSchema):
    name = Text(required=True, validate=validate.Length(1, 80))
    scope = fields.String(
        load_default="read",
        validate=validate.OneOf(["read", "write"]),
        metadata={"description": "read: GET only; write: may change data too"},
    )
    expires_at = fields.AwareDateTime(
        load_default=None,
        allow_none=True,
        metadata={"description": "In the future, before 9999-01-01; omit or null for no expiry"},
    )

    @ma.validates("expires_at")
    def _in_the_future(self, value: datetime | None, **kwargs: object) -> None:
        if value is None:
            return
        try:
            in_utc = value.astimezone(UTC)  # 9999-12-31T23:00-14:00 is past year 9999
        except OverflowError:
            in_utc = LATEST_EXPIRY
        if not utcnow() < in_utc < LATEST_EXPIRY:
            raise ma.ValidationError(
                f"Must be in the future and before {LATEST_EXPIRY:%Y-%m-%d} (or null)."
            )


class ApiKeySchema(ma.Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(dump_only=True)
    scope = fields.String(dump_only=True)
    prefix = fields.String(dump_only=True, metadata={"description": "To recognize the key"})
    created_at = fields.AwareDateTime(dump_only=True)
    expires_at = fields.AwareDateTime(dump_only=True, allow_none=True)
    last_used_at = fields.AwareDateTime(dump_only=True, allow_none=True)


class ApiKeyCreatedSchema(ApiKeySchema):
    key = fields.String(
        dump_only=True, metadata={"description": "The secret: shown this once, never again"}
    )
