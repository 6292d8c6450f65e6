"""Image schemas: the URLs of every size of a cover or avatar, and the upload form."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields

from potluck.domain.images import SIZES, media_name

MEDIA_URL_PREFIX = "/media/"


def image_urls(image_hash: str) -> dict[str, str]:
    """The URL of every size of a stored image."""
    return {size: MEDIA_URL_PREFIX + media_name(image_hash, size) for size in SIZES}


class ImageUrlsSchema(ma.Schema):
    large = fields.String(
        dump_only=True, metadata={"description": "At most 1600 px on the longest side (WebP)"}
    )
    thumbnail = fields.String(
        dump_only=True, metadata={"description": "At most 400 px on the longest side (WebP)"}
    )


class ImageUrls(fields.Nested):
    """The URLs of every size of the image whose hash the `attribute` holds (null without)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(ImageUrlsSchema, dump_only=True, allow_none=True, **kwargs)

    # marshmallow's own Nested already differs from Field's signature in its stubs.
    def _serialize(self, nested_obj: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        return image_urls(nested_obj) if nested_obj else None


class LargeImageUrl(fields.String):
    """The URL of the large size of the image whose hash the `attribute` holds."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(dump_only=True, allow_none=True, **kwargs)

    def _serialize(self, value: Any | None, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return image_urls(value)["large"] if value else None


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
