"""Keyset ("cursor") paging of recipe lists: opaque, signed cursors that hold where a page
ended (the last row's sort key and id), and the WHERE clause that starts the next page there,
so a deep page costs what the first one does (an index seek, no OFFSET)."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, NoReturn

from flask import current_app
from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy import REAL, ColumnElement, Row, and_, cast, func, literal, select, tuple_

from potluck.domain.database import db
from potluck.domain.errors import Invalid
from potluck.domain.models import Recipe
from potluck.services.caching import cached_count, per_generation
from potluck.services.pagination import Page, paginate, paginate_after
from potluck.services.recipe_documents import VERSION_COLUMNS, versions_of
from potluck.services.search import recipe_list

CURSOR_SALT = "potluck.recipe-list-cursor"
_VERSION = 1
_DATETIME_SORTS = ("created_at", "updated_at")
_INTEGER_SORTS = ("cook_time", "num_of_servings")
# Far beyond any id SQLite or PostgreSQL hands out, and still a 64-bit integer.
_MAX_ID = 2**31  # ids are INTEGER on PostgreSQL
_MAX_REAL = 3.4e38  # just under the largest 4-byte float


def list_fingerprint(params: dict[str, Any], list_options: dict[str, Any]) -> str:
    """What a list holds, apart from its order: its filters and whose recipes, which drafts."""
    author = list_options.get("author")
    described = [
        params.get("q"),
        sorted({tag.lower() for tag in params.get("tag") or ()}),
        (params.get("author") or "").lower(),
        params.get("max_cook_time"),
        author.id if author is not None else None,
        bool(list_options.get("include_drafts")),
        bool(list_options.get("only_drafts")),
    ]
    return hashlib.sha256(json.dumps(described).encode()).hexdigest()[:16]


def _malformed() -> NoReturn:
    raise Invalid(
        "The cursor is not one this server made, or it was changed; "
        "start again from the first page, without cursor.",
        errors={"cursor": ["Not a valid cursor; start again from the first page."]},
    )


def _key_value(sort: str, raw: Any) -> Any:
    """The sort key as the database compares it, or None when `raw` cannot be one."""
    if sort in _DATETIME_SORTS and isinstance(raw, str):
        try:
            moment = datetime.fromisoformat(raw)
            return moment.astimezone(UTC) if moment.tzinfo is not None else None
        except (ValueError, OverflowError):
            return None
    if sort == "name" and isinstance(raw, str):
        # Text either database can take: UTF-8, and no NUL (PostgreSQL refuses it).
        return raw if _storable(raw) else None
    if sort in _INTEGER_SORTS and type(raw) is int and 0 <= raw <= 1441:
        return raw
    if sort == "relevance" and type(raw) in (int, float) and math.isfinite(raw):
        # Compared as a REAL (4 bytes): beyond its range PostgreSQL refuses the cast.
        return float(raw) if abs(raw) <= _MAX_REAL else None
    return None


def _storable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


@dataclass(frozen=True, slots=True)
class ListCursors:
    """Cursors of one list: its sort, order and filters are part of every cursor."""

    sort: str
    order: str
    fingerprint: str

    @staticmethod
    def _serializer() -> URLSafeSerializer:
        return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=CURSOR_SALT)

    def encode(self, key: Any, recipe_id: int) -> str:
        """The cursor of the page that starts after the row (key, recipe_id)."""
        value = key.isoformat() if isinstance(key, datetime) else key
        payload = [_VERSION, self.sort, self.order, self.fingerprint, value, recipe_id]
        token: str = self._serializer().dumps(payload)
        return token

    def decode(self, token: str) -> tuple[Any, int]:
        """(key, id) of the row a cursor of this list points after; a 400 for any other."""
        try:
            payload = self._serializer().loads(token)
        except (BadData, ValueError, UnicodeError):
            _malformed()
        if not (isinstance(payload, list) and len(payload) == 6 and payload[0] == _VERSION):
            _malformed()
        _, sort, order, fingerprint, raw_key, recipe_id = payload
        differing = [
            name
            for name, theirs, ours in (
                ("sort", sort, self.sort),
                ("order", order, self.order),
                ("filters", fingerprint, self.fingerprint),
            )
            if theirs != ours
        ]
        if differing:
            which = ", ".join(differing)
            raise Invalid(
                f"This cursor belongs to a list with another {which}; send it with the "
                "parameters it came with, or start again from the first page.",
                errors={"cursor": [f"Made for another {which}; start again from the first page."]},
            )
        key = _key_value(sort, raw_key)
        if key is None or type(recipe_id) is not int or not 0 < recipe_id < _MAX_ID:
            _malformed()
        return key, recipe_id


def after(key: ColumnElement[Any], descending: bool, value: Any, recipe_id: int) -> Any:
    """Rows that come after (value, recipe_id) in the order (key, id), both one way."""
    # Ranks are compared as the REAL the database computed, not the double they came back as.
    bound = cast(literal(value), REAL) if isinstance(value, float) else literal(value, key.type)
    position = tuple_(bound, literal(recipe_id))
    row = tuple_(key, Recipe.id)
    # The plain range on the key is what lets SQLite seek an expression index (cook_time).
    if descending:
        return and_(key <= bound, row < position)
    return and_(key >= bound, row > position)


def _highest_recipe_id() -> int:
    """About how many recipes there are, from the primary key's end (no count); once per
    cache generation, and close enough until then (it only picks how to read a page)."""

    def highest() -> int:
        return db.session.scalar(select(func.max(Recipe.id))) or 0

    return per_generation("recipes:highest-id", highest)


def recipe_page(
    params: dict[str, Any], list_options: dict[str, Any], *, versions: bool = False
) -> Page:
    """The page of a recipe list that `params` ask for, by cursor or by number; either way
    with the cursor of the page after it. Its items are recipes, or with `versions` their
    RecipeVersions alone (narrow rows: see recipe_documents)."""
    listing = recipe_list(params, **list_options)
    fingerprint = list_fingerprint(params, list_options)
    cursors = ListCursors(listing.sort, listing.order, fingerprint)
    # The count depends on the filters alone: every page and order of a search shares it.
    total = cached_count(listing.counting, f"recipes:{fingerprint}")
    if listing.tagged_first is not listing.statement:
        depth = params["per_page"] * (1 if params.get("cursor") else params["page"])
        listing = listing.for_page(total, depth, _highest_recipe_id())
    ordered = listing.ordered()
    if versions:
        ordered = ordered.with_only_columns(*VERSION_COLUMNS, listing.key.label("sort_key"))

    def cursor_after(row: Row[Any, Any]) -> str:
        recipe_id = row[0] if versions else row[0].id
        return cursors.encode(row[-1], recipe_id)

    if params.get("cursor"):
        key, recipe_id = cursors.decode(params["cursor"])
        ordered = ordered.where(after(listing.key, listing.descending, key, recipe_id))
        page = paginate_after(total, ordered, params["per_page"], cursor_after, rows=versions)
    else:
        page = paginate(
            total, ordered, params["page"], params["per_page"], cursor_after, rows=versions
        )
    return replace(page, items=versions_of(page.items)) if versions else page
