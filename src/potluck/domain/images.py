"""What a stored image is: the sizes it is kept at, and the file name of each size (named by
the content hash of the large copy, so equal pictures share their files)."""

from __future__ import annotations

# The longest side of each size, in pixels.
SIZES = {"large": 1600, "thumbnail": 400}
OUTPUT_EXTENSION = "webp"
OUTPUT_CONTENT_TYPE = "image/webp"


def media_name(image_hash: str, size: str) -> str:
    return f"{image_hash}-{size}.{OUTPUT_EXTENSION}"
