"""How pages link to each other and to images: a recipe's canonical slug URL, and the
responsive `srcset` of a stored image (templates call these as globals)."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from flask import redirect, request, url_for
from werkzeug.wrappers import Response

from potluck.domain.images import SIZES
from potluck.domain.models import Recipe
from potluck.schemas.images import image_urls
from potluck.web.base import site

_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_SLUG_LENGTH = 60
# Where a recipe's name leaves nothing to spell a slug with ("日本", "!!!").
FALLBACK_SLUG = "recipe"


def slugify(text: str) -> str:
    """ASCII, lowercase, words joined by hyphens: "Crème Brûlée!" is "creme-brulee"."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = _NOT_SLUG.sub("-", ascii_text.lower()).strip("-")
    return slug[:_SLUG_LENGTH].rstrip("-") or FALLBACK_SLUG


@site.app_template_global()
def recipe_url(recipe: Recipe, **values: Any) -> str:
    """The canonical page of a recipe: /recipes/<id>-<slug of its name>."""
    return url_for("web.recipe", recipe_id=recipe.id, slug=slugify(recipe.name), **values)


@site.app_template_global()
def image_src(image_hash: str, size: str = "thumbnail") -> str:
    return image_urls(image_hash)[size]


@site.app_template_global()
def image_srcset(image_hash: str) -> str:
    """Every size of a stored image for `srcset`. Each is named by its longest side: the
    exact width would cost a query per image, and the browser only uses it to choose."""
    urls = image_urls(image_hash)
    return ", ".join(
        f"{urls[size]} {SIZES[size]}w" for size in sorted(SIZES, key=lambda name: SIZES[name])
    )


def moved(path: str) -> Response:
    """A 301 to the canonical spelling of this page, its query string kept."""
    query = request.query_string.decode()
    response: Response = redirect(f"{path}?{query}" if query else path, code=301)
    return response


@site.app_template_filter("duration")
def duration(minutes: int) -> str:
    """Minutes as a cook reads them: 45 is "45 min", 90 "1 h 30 min", 120 "2 h"."""
    hours, rest = divmod(minutes, 60)
    return " ".join(
        part for part in (f"{hours} h" if hours else "", f"{rest} min" if rest else "") if part
    )
