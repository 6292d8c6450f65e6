"""Recipe list queries: visibility, filters, text search and stable ordering."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, asc, desc, exists, func, select
from sqlalchemy.orm import joinedload

from potluck.domain.database import db
from potluck.domain.models import COOK_TIME_KEYS, Recipe, Tag, User, recipe_tags
from potluck.services.fulltext import matching

DEFAULT_ORDER = {
    "created_at": "desc",
    "updated_at": "desc",
    "name": "asc",
    "cook_time": "asc",
    "num_of_servings": "asc",
    "relevance": "desc",
}
_SORT_COLUMNS = {
    "created_at": Recipe.created_at,
    "updated_at": Recipe.updated_at,
    "name": Recipe.name,
    "num_of_servings": Recipe.num_of_servings,
}


@dataclass(frozen=True, slots=True)
class RecipeList:
    """A filtered recipe list and its order: a sort key that is never NULL, then id."""

    statement: Select[tuple[Recipe]]
    sort: str
    order: str
    key: ColumnElement[Any]

    @property
    def descending(self) -> bool:
        return self.order == "desc"

    def ordered(self) -> Select[tuple[Recipe, Any]]:
        """Rows of (recipe, sort key) in the list's order."""
        direction = desc if self.descending else asc
        statement = self.statement.add_columns(self.key.label("sort_key"))
        return statement.order_by(direction(self.key), direction(Recipe.id))


def _has_tag(name: str) -> Any:
    return exists().where(
        recipe_tags.c.recipe_id == Recipe.id,
        recipe_tags.c.tag_id == Tag.id,
        Tag.name == name,
    )


def recipe_list(
    params: dict[str, Any],
    *,
    author: User | None = None,
    include_drafts: bool = False,
    only_drafts: bool = False,
) -> RecipeList:
    """One recipe list: every filter, then a stable order (id breaks ties)."""
    statement = select(Recipe).options(joinedload(Recipe.author, innerjoin=True))
    if author is not None:
        statement = statement.where(Recipe.author_id == author.id)
    if only_drafts:
        statement = statement.where(Recipe.is_publish == False)  # noqa: E712 - indexable
    elif not include_drafts:
        statement = statement.where(Recipe.is_publish == True)  # noqa: E712 - indexable
    for tag in params.get("tag") or ():
        statement = statement.where(_has_tag(tag.lower()))
    if params.get("author"):
        statement = statement.join(User, Recipe.author_id == User.id).where(
            func.lower(User.username) == params["author"].lower()
        )
    if params.get("max_cook_time") is not None:
        statement = statement.where(Recipe.cook_time <= params["max_cook_time"])
    relevance = None
    if params.get("q"):
        dialect = db.session.get_bind().dialect.name
        ranked = params.get("sort") == "relevance"
        narrow = bool(params.get("tag") or params.get("author")) or (
            params.get("max_cook_time") is not None
        )
        statement, relevance = matching(
            statement, params["q"], dialect, ranked=ranked, narrow=narrow
        )

    sort = params.get("sort") or "created_at"
    order = params.get("order") or DEFAULT_ORDER[sort]
    if sort == "relevance" and relevance is not None:
        key = relevance
    elif sort == "cook_time":
        # Recipes without a cook time sort last either way, on SQLite and PostgreSQL alike.
        key = COOK_TIME_KEYS[order]
    else:
        key = _SORT_COLUMNS[sort]
    return RecipeList(statement, sort, order, key)
