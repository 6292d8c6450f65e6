"""Recipes as CSV, for spreadsheets: one row a recipe, lists joined by newlines."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

CSV_MIMETYPE = "text/csv"
COLUMNS = (
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


def recipes_csv(recipes: Iterable[dict[str, Any]]) -> bytes:
    """Serialized recipes (as the API dumps them) as RFC 4180 CSV with a header row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for recipe in recipes:
        writer.writerow([_cell(recipe.get(column)) for column in COLUMNS])
    return out.getvalue().encode()
