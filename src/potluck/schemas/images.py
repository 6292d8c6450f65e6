"""Image schemas: the URLs of every size of a cover or avatar, and the upload form."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields


class ImageUrlsSchema(ma.Schema):
    large = fields.String(
        dump_only=True, metadata={"description": "At most 1600 px on the longest side (WebP)"}
    )
    thumbnail = fields.String(
        dump_only=True, metadata={"description": "At most 400 px on the longest side (WebP)"}
    )


class ImageOutputSchema(ImageUrlsSchema):
    width = fields.Integer(dump_only=True, metadata={"description": "Of the large size"})
    height = fields.Integer(dump_only=True, metadata={"description": "Of the large size"})


def upload_body(field: str) -> dict[str, object]:
    """The OpenAPI request body of an upload: one multipart file field."""
    return {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [field],
                    "properties": {
                        field: {
                            "type": "string",
                            "format": "binary",
                            "description": "A JPEG, PNG, WebP or GIF image (first frame)",
                        }
                    },
                }
            }
        },
    }
