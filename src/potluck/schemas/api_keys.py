"""API key schemas: what a client sends to create one, and what it sees."""

from __future__ import annotations

from datetime import datetime

import marshmallow as ma
from marshmallow import fields, validate

from ..models import utcnow
from .fields import StrictSchema, Text


class ApiKeyCreateSchema(StrictSchema):
    name = Text(required=True, validate=validate.Length(1, 80))
    scope = fields.String(
        load_default="read",
        validate=validate.OneOf(["read", "write"]),
        metadata={"description": "read: GET only; write: may change data too"},
    )
    expires_at = fields.AwareDateTime(
        load_default=None, allow_none=True, metadata={"description": "Omit for no expiry"}
    )

    @ma.validates("expires_at")
    def _in_the_future(self, value: datetime | None, **kwargs: object) -> None:
        if value is not None and value <= utcnow():
            raise ma.ValidationError("Must be in the future.")


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
