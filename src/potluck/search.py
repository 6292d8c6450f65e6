"""Recipe list queries: visibility, filters, text search and stable ordering."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, and_, case, exists, func, or_, select
from sqlalchemy.orm import joinedload

from .extensions import db
from .models import Recipe, Tag, User, recipe_tags

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
    "cook_time": Recipe.cook_time,
    "num_of_servings": Recipe.num_of_servings,
}


def _like_pattern(word: str) -> str:
    escaped = word.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _has_tag(name: str) -> Any:
    return exists().where(
        recipe_tags.c.recipe_id == Recipe.id,
        recipe_tags.c.tag_id == Tag.id,
        Tag.name == name,
    )


def _ingredient_lines() -> Any:
    """The ingredient lines of a recipe as rows, to search their text rather than the JSON."""
    dialect = db.session.get_bind().dialect.name
    elements = func.json_array_elements_text if dialect == "postgresql" else func.json_each
    return elements(Recipe.ingredients).table_valued("value").alias("ingredient")


def _matches(word: str) -> Any:
    pattern = _like_pattern(word)
    lines = _ingredient_lines()
    return or_(
        func.lower(Recipe.name).like(pattern, escape="\\"),
        func.lower(Recipe.description).like(pattern, escape="\\"),
        exists().select_from(lines).where(func.lower(lines.c.value).like(pattern, escape="\\")),
        exists().where(
            recipe_tags.c.recipe_id == Recipe.id,
            recipe_tags.c.tag_id == Tag.id,
            Tag.name.like(pattern, escape="\\"),
        ),
    )


def recipe_list(
    params: dict[str, Any],
    *,
    author: User | None = None,
    include_drafts: bool = False,
    only_drafts: bool = False,
) -> Select[tuple[Recipe]]:
    """The statement for one recipe list: every filter, then a stable order (id breaks ties)."""
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
    words = (params.get("q") or "").split()
    if words:
        statement = statement.where(and_(*(_matches(word) for word in words)))

    sort = params.get("sort") or "created_at"
    descending = (params.get("order") or DEFAULT_ORDER[sort]) == "desc"
    if sort == "relevance":
        # Until full-text ranking lands, a match in the name ranks above one elsewhere.
        in_name = and_(
            *(func.lower(Recipe.name).like(_like_pattern(w), escape="\\") for w in words)
        )
        key: Any = case((in_name, 1), else_=0)
        tie = Recipe.created_at
        keys = [key.desc() if descending else key.asc(), tie.desc() if descending else tie.asc()]
    else:
        column = _SORT_COLUMNS[sort]
        # Recipes without a cook time sort last either way, on SQLite and PostgreSQL alike.
        keys = [(column.desc() if descending else column.asc()).nulls_last()]
    keys.append(Recipe.id.desc() if descending else Recipe.id.asc())
    return statement.order_by(*keys)
