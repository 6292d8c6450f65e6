"""Recipe import from a web page: fetched through the one fetcher, read with recipe-scrapers
(schema.org JSON-LD, `@graph` included, and microdata), fitted to Potluck's limits, validated
by the schema POST /recipes uses, and saved as a draft of the importer with the page's image
as its cover.

What a page says is shortened or clamped to fit rather than refused (a 120-character title,
a 3-day ferment); what cannot fit is left out (a tag of symbols). Nothing invalid is stored:
the result goes through RecipeInputSchema like any client's recipe."""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import marshmallow as ma
from flask import current_app
from marshmallow import validate

from potluck.domain.models import Recipe, User
from potluck.domain.recipes import create_recipe
from potluck.domain.transactions import commit
from potluck.schemas.fields import MAX_LINE_LENGTH, MAX_LINES, MAX_TAGS, Tags
from potluck.schemas.recipes import RecipeInputSchema
from potluck.services.fetcher import Fetched, FetchError, fetch_image, fetch_page
from potluck.services.images import ImageRejected, ProcessedImage, process_image
from potluck.services.media import save_image, set_cover

if TYPE_CHECKING:
    from recipe_scrapers import AbstractScraper

log = logging.getLogger(__name__)

_CONTROL_AND_SPACE = re.compile(r"[\s\x00-\x1f\x7f]+")
_TAG_SEPARATORS = re.compile(r"[,;/|]")
_NOT_IN_A_TAG = re.compile(r"[^\w '&+-]+")
# At most 6 digits: int() refuses thousands, and 50 is the most servings anyway.
_SERVINGS = re.compile(r"^\D*?(\d{1,6})\s*(?:servings?|people|persons?|portions?)?\s*$", re.I)
_NUMBER = re.compile(r"\d{1,6}")


class NoRecipeFound(Exception):
    """The page has no recipe Potluck can read; `detail` says so, for the user."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True, slots=True)
class ImportedRecipe:
    """A recipe read from a page: fields as RecipeInputSchema loads them, and its image."""

    fields: dict[str, Any]
    image_url: str | None


def import_recipe(url: str, author: User) -> Recipe:
    """Read the recipe at `url` and save it as a draft of `author`, with the page's image as
    cover when it can be fetched and is an image we accept; commits."""
    imported = read_recipe(url)
    cover = _cover(imported.image_url)  # every fetch before the first write
    recipe = create_recipe(author, imported.fields)
    if cover is None:
        commit()
    else:
        save_image(cover, lambda: set_cover(recipe, cover.hash))
    return recipe


def read_recipe(url: str) -> ImportedRecipe:
    """The recipe at `url`, fitted and validated; raises FetchError or NoRecipeFound."""
    return recipe_from_page(fetch_page(url))


def recipe_from_page(page: Fetched) -> ImportedRecipe:
    """The recipe a fetched page describes, fitted and validated; or NoRecipeFound."""
    scraper = _scraper(page)
    schema = RecipeInputSchema()
    document = _document(scraper, schema, page.url)
    try:
        fields = schema.load(document)
    except ma.ValidationError as error:  # a gap in the fitting below: refuse, never store
        raise NoRecipeFound(
            f"The recipe at {page.url} could not be read: {error.messages}."
        ) from None
    return ImportedRecipe(fields, _image_url(scraper, page.url))


def _scraper(page: Fetched) -> AbstractScraper:
    # Imported on first use: recipe-scrapers loads ~650 site modules (half a second).
    from recipe_scrapers import scrape_html

    try:
        return scrape_html(page.text(), org_url=page.url, supported_only=False)
    except Exception:  # a third-party parser on hostile HTML can fail any way it likes
        raise _no_recipe(page.url) from None


def _no_recipe(url: str) -> NoRecipeFound:
    return NoRecipeFound(
        f"No recipe found at that address: {url} has no schema.org Recipe (JSON-LD or "
        "microdata) that Potluck can read. Give the address of the recipe page itself."
    )


def _field(read: Callable[[], Any]) -> Any:
    """One field of the scraped recipe, or None when the page lacks it or garbles it."""
    try:
        return read()
    except Exception:  # recipe-scrapers raises a different error for each way a field is missing
        return None


def _document(scraper: AbstractScraper, schema: ma.Schema, source_url: str) -> dict[str, Any]:
    name = _one_line(_field(scraper.title), _longest(schema, "name"))
    if not name:
        raise _no_recipe(source_url)
    prep = _minutes(_field(scraper.prep_time), schema, "prep_time")
    cook = _minutes(_field(scraper.cook_time), schema, "cook_time")
    if prep is None and cook is None:  # only a total: count it as cooking
        cook = _minutes(_field(scraper.total_time), schema, "cook_time")
    document: dict[str, Any] = {
        "name": name,
        "description": _one_line(_field(scraper.description), _longest(schema, "description")),
        "ingredients": _lines(_field(scraper.ingredients)),
        "directions": _lines(_field(scraper.instructions_list)),
        "prep_time": prep,
        "cook_time": cook,
        "tags": _tags(_field(scraper.category), _field(scraper.cuisine), _field(scraper.keywords)),
        "source_url": _source_url(schema, source_url),
    }
    servings = _servings(scraper, schema)
    if servings is not None:
        document["num_of_servings"] = servings
    return document


def _longest(schema: ma.Schema, field: str) -> int:
    return _bounds(schema, field, validate.Length)[1]


def _bounds(schema: ma.Schema, field: str, kind: type[Any]) -> tuple[int, int]:
    """A field's (min, max) from its validator, so the fitting follows the schema."""
    for validator in schema.fields[field].validators:
        if isinstance(validator, kind):
            return int(validator.min or 0), int(validator.max)
    raise LookupError(f"{field} has no {kind.__name__} validator")


def _one_line(value: Any, limit: int) -> str:
    text = unicodedata.normalize("NFC", value if isinstance(value, str) else "")
    return _shortened(_CONTROL_AND_SPACE.sub(" ", text).strip(), limit)


def _shortened(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word where one is near, marked with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.8:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "…"


def _lines(value: Any) -> list[str]:
    lines = [_one_line(item, MAX_LINE_LENGTH) for item in _strings(value)]
    return [line for line in lines if line][:MAX_LINES]


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable) and not isinstance(value, Mapping | bytes):
        return [item for item in value if isinstance(item, str)]
    return []


def _minutes(value: Any, schema: ma.Schema, field: str) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or value < 1:
        return None  # "0 minutes" or garbage: no time rather than a wrong one
    low, high = _bounds(schema, field, validate.Range)
    return max(low, min(high, round(value)))


def _servings(scraper: AbstractScraper, schema: ma.Schema) -> int | None:
    """Servings from the yield: "4 servings" or a bare "4" first (a page may also say
    "1 loaf"), else the first number the yield has."""
    raw = _field(lambda: scraper.schema.data.get("recipeYield"))
    said = _field(scraper.yields)
    texts = [str(item) for item in (raw if isinstance(raw, list) else [raw]) if item is not None]
    texts += _strings(said)
    found = next((int(m[1]) for t in texts if (m := _SERVINGS.match(t))), None)
    if found is None:
        numbers = _NUMBER.search(said) if isinstance(said, str) else None
        found = int(numbers[0]) if numbers else None
    if found is None:
        return None
    low, high = _bounds(schema, "num_of_servings", validate.Range)
    return max(low, min(high, found))


def _tags(*sources: Any) -> list[str]:
    """Category, cuisine, then keywords, as the recipe schema's tags; what it would refuse
    (too long, only symbols) is left out."""
    field = Tags()
    tags: list[str] = []
    for source in sources:
        for text in _strings(source):
            for part in _TAG_SEPARATORS.split(text):
                candidate = " ".join(_NOT_IN_A_TAG.sub(" ", part).split()).lstrip("'&+-")
                try:
                    tags += [t for t in field.deserialize([candidate]) if t not in tags]
                except ma.ValidationError:
                    continue
    return tags[:MAX_TAGS]


def _source_url(schema: ma.Schema, url: str) -> str | None:
    try:
        checked: str = schema.fields["source_url"].deserialize(url)
    except ma.ValidationError:
        return None  # e.g. a host without a dot; the recipe is still worth keeping
    return checked


def _image_url(scraper: AbstractScraper, page_url: str) -> str | None:
    image = _field(scraper.image)
    return urljoin(page_url, image.strip()) if isinstance(image, str) and image.strip() else None


def _cover(image_url: str | None) -> ProcessedImage | None:
    """The page's image, processed like an upload; None (and a log line) when it cannot be
    had: a recipe without its picture is still worth importing."""
    if image_url is None:
        return None
    try:
        image = fetch_image(image_url)
        return process_image(image.body, max_pixels=current_app.config["MAX_IMAGE_PIXELS"])
    except (FetchError, ImageRejected) as error:
        log.info("imported recipe saved without cover: %s", error.detail)
        return None
