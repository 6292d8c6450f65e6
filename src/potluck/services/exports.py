"""Lists as CSV, for spreadsheets: one row an item (a recipe, a tag), lists joined by
newlines."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

CSV_MIMETYPE = "text/csv"
RECIPE_COLUMNS = (
    "id",
    "name",
    "description",
    "num_of_servings",
    "cook_time",
    "prep_time",
    "ingredients",
    "directions",
    "tags",
    "is_publish",
    "source_url",
    "author",
    "created_at",
    "updated_at",
)
TAG_COLUMNS = ("name", "recipes", "url")
# A cell starting with one of these runs as a formula in spreadsheets (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        value = "\n".join(str(item) for item in value)
    elif isinstance(value, dict):
        value = value.get("username", "")
    text = str(value)
    if text.startswith(_FORMULA_START) and not isinstance(value, int | float):
        text = "'" + text
    return text


def table_csv(columns: tuple[str, ...], items: Iterable[dict[str, Any]]) -> bytes:
    """Serialized items (as the API dumps them) as RFC 4180 CSV with a header row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for item in items:
        writer.writerow([_cell(item.get(column)) for column in columns])
    return out.getvalue().encode()


def recipes_csv(recipes: Iterable[dict[str, Any]]) -> bytes:
    return table_csv(RECIPE_COLUMNS, recipes)


def tags_csv(tags: Iterable[dict[str, Any]]) -> bytes:
    return table_csv(TAG_COLUMNS, tags)
