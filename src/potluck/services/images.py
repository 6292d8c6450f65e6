"""Image processing: decode an upload by its content, refuse what is not a safe image,
and re-encode clean copies at every size.

Nothing of the upload is served as sent: the pixels are decoded, oriented, converted to
sRGB and encoded again, so metadata (EXIF, GPS, XMP, ICC) and any payload hidden in the
file are dropped. One output format, WebP, was chosen by measurement (bench/image_memory.py):
it is smaller than JPEG at the same visual quality, keeps transparency, and every current
browser decodes it, so no second copy and no content negotiation are needed.
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings
from dataclasses import dataclass

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from potluck.domain.images import SIZES, media_name

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
WEBP_QUALITY = 80

# Markers of another format (HTML, SVG, PDF, ZIP/JAR) where readers and sniffers look for
# them: the first and the last KiB. Only there, so compressed pixel data never trips them.
_ACTIVE_CONTENT = re.compile(
    rb"<(?:script|html|svg|body|iframe|!doctype)[\s>/]|%PDF-|PK\x05\x06", re.IGNORECASE
)
_SNIFFED_BYTES = 1024
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


class ImageRejected(Exception):
    """The upload is not an image we accept; `status` and `detail` say why, for the client."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True, slots=True)
class ProcessedImage:
    """Clean copies of one upload, named by the SHA-256 of the large copy."""

    hash: str
    width: int
    height: int
    files: dict[str, bytes]  # size name -> encoded WebP

    def file_names(self) -> dict[str, str]:
        return {size: media_name(self.hash, size) for size in self.files}


def _unsupported(what: str) -> ImageRejected:
    return ImageRejected(
        415, f"{what} Upload a JPEG, PNG, WebP or GIF image (checked by content, not by name)."
    )


def _open(data: bytes, max_pixels: int) -> Image.Image:
    """Identify the image from its header only, refusing bombs before any pixel is decoded."""
    if not data:
        raise _unsupported("The file is empty.")
    if _ACTIVE_CONTENT.search(data[:_SNIFFED_BYTES] + b"\n" + data[-_SNIFFED_BYTES:]):
        raise _unsupported("The file contains HTML, SVG, PDF or archive content.")
    try:
        with warnings.catch_warnings():
            # Pillow warns, then raises, past its own limit; both mean a decompression bomb.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as error:
        raise ImageRejected(
            400, f"The image has too many pixels ({error}). Resize it and try again."
        ) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise _unsupported("The file is not an image we can read.") from None
    pixels = image.width * image.height
    if pixels > max_pixels:
        raise ImageRejected(
            400,
            f"The image is {image.width}x{image.height} pixels ({pixels:,}); the limit is "
            f"{max_pixels:,} pixels. Resize it and try again.",
        )
    return image


def _decoded(image: Image.Image) -> Image.Image:
    """The first frame, upright, in sRGB, as RGB or RGBA."""
    if image.format == "JPEG":
        # Decode at a reduced scale straight from the DCT: far less memory for big photos.
        image.draft("RGB", (SIZES["large"], SIZES["large"]))
    try:
        image.seek(0)
        image.load()
    except (OSError, ValueError, SyntaxError, EOFError):
        raise _unsupported("The image is incomplete or damaged.") from None
    icc = image.info.get("icc_profile")
    ImageOps.exif_transpose(image, in_place=True)  # in place: no second full-size copy
    if icc and image.mode in {"RGB", "RGBA", "CMYK"}:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            mode = "RGBA" if image.mode == "RGBA" else "RGB"
            converted = ImageCms.profileToProfile(image, source, _SRGB, outputMode=mode)
            if converted is not None:
                image = converted
        except (ImageCms.PyCMSError, OSError):
            pass  # a broken profile is dropped, the pixels are kept as they are
    has_alpha = image.mode in {"RGBA", "LA", "PA"} or "transparency" in image.info
    mode = "RGBA" if has_alpha else "RGB"
    return image if image.mode == mode else image.convert(mode)


def _encode(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    # No exif, xmp or icc_profile arguments: the copy carries pixels only.
    image.save(buffer, "WEBP", quality=WEBP_QUALITY, method=4)
    return buffer.getvalue()


def _resized(image: Image.Image, longest_side: int) -> Image.Image:
    """A new, smaller image (never a full-size copy), or the image itself if it is small."""
    scale = longest_side / max(image.size)
    if scale >= 1:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    factor = int(1 / scale / 1.5)
    if factor > 1:
        # Box-reduce first: Pillow premultiplies RGBA in a full-size copy before resizing.
        image = image.reduce(factor)
    return image.resize(size, Image.Resampling.LANCZOS)


def image_too_large(max_bytes: int) -> ImageRejected:
    return ImageRejected(
        413, f"Images can be at most {max_bytes // 1024 // 1024} MiB; resize it and try again."
    )


def process_upload(data: bytes, *, max_bytes: int, max_pixels: int) -> ProcessedImage:
    """An uploaded file (read up to one byte past `max_bytes`) checked and processed, for the
    API and the site alike; raises ImageRejected."""
    if len(data) > max_bytes:
        raise image_too_large(max_bytes)
    return process_image(data, max_pixels=max_pixels)


def process_image(data: bytes, *, max_pixels: int) -> ProcessedImage:
    """Validate an upload and produce every size, or raise ImageRejected."""
    with _open(data, max_pixels) as original:
        picture = _decoded(original)
    large = _resized(picture, SIZES["large"])
    del picture
    thumbnail = _resized(large, SIZES["thumbnail"])
    files = {"large": _encode(large), "thumbnail": _encode(thumbnail)}
    return ProcessedImage(
        hash=hashlib.sha256(files["large"]).hexdigest(),
        width=large.width,
        height=large.height,
        files=files,
    )
