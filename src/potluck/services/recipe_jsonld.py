"""A recipe as schema.org `Recipe` JSON-LD: the API's `application/ld+json` answer and the
block in a recipe page's head, so search engines and recipe managers read it whole."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from markupsafe import Markup

from potluck.domain.models import Recipe

JSONLD_MIMETYPE = "application/ld+json"
SCHEMA_ORG = "https://schema.org"

# Inside <script> the HTML parser ends the block at "</script" and treats "<!--" specially;
# JavaScript (before ES2019) ends a string at U+2028/U+2029. JSON's \u escapes mean the same.
_SCRIPT_SAFE = str.maketrans(
    {
        "<": "\\u003c",
        ">": "\\u003e",
        "&": "\\u0026",
        "\u2028": "\\u2028",
        "\u2029": "\\u2029",
    }
)


def iso_duration(minutes: int | None) -> str | None:
    """Minutes as an ISO 8601 duration: 90 is "PT1H30M", 45 "PT45M", 120 "PT2H"."""
    if not minutes:
        return None
    hours, rest = divmod(minutes, 60)
    return "PT" + (f"{hours}H" if hours else "") + (f"{rest}M" if rest else "")


def recipe_jsonld(
    recipe: Recipe,
    *,
    recipe_url: str,
    image_urls: Mapping[str, str] | None,
    author_url: str,
) -> dict[str, Any]:
    """The schema.org `Recipe` node of a recipe. URLs come from the caller, absolute: the
    recipe's own, its cover's per size (largest first, as schemas.images.image_urls gives
    them; None without a cover) and its author's."""
    author = recipe.author
    servings = recipe.num_of_servings
    published = recipe.published_at or (recipe.created_at if recipe.is_publish else None)
    document: dict[str, Any] = {
        "@context": SCHEMA_ORG,
        "@type": "Recipe",
        "@id": recipe_url,
        "url": recipe_url,
        "name": recipe.name,
        "description": recipe.description or None,
        "author": {
            "@type": "Person",
            "name": author.display_name or author.username,
            "url": author_url,
        },
        "datePublished": published.isoformat() if published else None,
        "dateModified": recipe.updated_at.isoformat(),
        "image": list(image_urls.values()) if image_urls else None,
        "recipeYield": f"{servings} serving{'' if servings == 1 else 's'}",
        "prepTime": iso_duration(recipe.prep_time),
        "cookTime": iso_duration(recipe.cook_time),
        "totalTime": iso_duration((recipe.prep_time or 0) + (recipe.cook_time or 0)),
        "recipeIngredient": list(recipe.ingredients),
        "recipeInstructions": [
            {"@type": "HowToStep", "position": position, "text": step}
            for position, step in enumerate(recipe.directions, start=1)
        ],
        "keywords": ", ".join(recipe.tags) or None,
        "isBasedOn": recipe.source_url,
    }
    # Absent rather than null: validators read a null property as a wrong value.
    return {name: value for name, value in document.items() if value is not None}


def jsonld_script(document: Mapping[str, Any]) -> Markup:
    """The document as the text of a <script type="application/ld+json"> element: no field,
    whatever it holds, can end the element or start markup inside it."""
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    return Markup(text.translate(_SCRIPT_SAFE))  # noqa: S704 - every markup character escaped
