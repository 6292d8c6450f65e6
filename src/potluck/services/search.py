"""Recipe list queries: visibility, filters, text search and stable ordering."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Boolean, ColumnElement, Select, asc, desc, exists, func, select
from sqlalchemy.orm import joinedload
from sqlalchemy.sql.elements import UnaryExpression
from sqlalchemy.sql.operators import custom_op

from potluck.domain.database import db
from potluck.domain.models import COOK_TIME_KEYS, Recipe, Tag, User, recipe_tags
from potluck.services.fulltext import matching, published_matches
from potluck.services.pagination import count_statement

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
    """A filtered recipe list and its order: a sort key that is never NULL, then id.

    `statement` checks each row it meets in the list's order against the tag filters (quick
    when many recipes carry the tags and the page is near the start); `tagged_first` is the
    same list read from the tags' recipes first (quick when few carry them, and always the
    quicker to count). Without tag filters they are the same statement."""

    statement: Select[tuple[Recipe]]
    sort: str
    order: str
    key: ColumnElement[Any]
    tagged_first: Select[tuple[Recipe]]
    # A statement that counts the list without visiting its rows, when there is one.
    counted_apart: Select[int] | None = None

    @property
    def counting(self) -> Select[int]:
        """The statement that counts the list: its rows, read from the tags' side when
        there are tag filters (every match is visited either way), unless a cheaper count
        is known (a search of published recipes on SQLite: fulltext.published_matches)."""
        if self.counted_apart is not None:
            return self.counted_apart
        return count_statement(self.tagged_first)

    def for_page(self, total: int, depth: int, highest_id: int) -> RecipeList:
        """The form that reads less for a page ending `depth` rows into a list of `total`
        among about `highest_id` recipes: walking the order visits about depth x
        highest_id / total rows, reading the tags' recipes first visits `total` and sorts
        them."""
        if self.tagged_first is self.statement or 2 * total * total >= depth * highest_id:
            return self
        return replace(self, statement=self.tagged_first)

    @property
    def descending(self) -> bool:
        return self.order == "desc"

    def ordered(self) -> Select[tuple[Recipe, Any]]:
        """Rows of (recipe, sort key) in the list's order."""
        direction = desc if self.descending else asc
        statement = self.statement.add_columns(self.key.label("sort_key"))
        return statement.order_by(direction(self.key), direction(Recipe.id))


def _author_id(username: str) -> Any:
    """The id of the cook named `username` (any case), looked up once by the statement."""
    return select(User.id).where(func.lower(User.username) == username.lower()).scalar_subquery()


def _visibility(dialect: str, *, one_author: bool) -> ColumnElement[bool]:
    """The published flag to filter on. For one cook's list on SQLite it is hidden from the
    planner (`+is_publish`, SQLite's documented way): without statistics SQLite would walk
    every public recipe in the list's order and check each one's author, where the author's
    own index reads only theirs (a few dozen rows to sort, against the whole list)."""
    if one_author and dialect == "sqlite":
        return UnaryExpression(
            Recipe.is_publish.expression, operator=custom_op("+"), type_=Boolean()
        )
    return Recipe.is_publish.expression


def _has_tag(name: str) -> Any:
    """A check of each row (one index probe; the tag's id is looked up once)."""
    tag_id = select(Tag.id).where(Tag.name == name).scalar_subquery()
    return exists().where(recipe_tags.c.recipe_id == Recipe.id, recipe_tags.c.tag_id == tag_id)


def _tagged(name: str) -> Any:
    """The recipes carrying the tag, read from the tag's side of recipe_tags."""
    tagged = select(recipe_tags.c.recipe_id).join(Tag, Tag.id == recipe_tags.c.tag_id)
    return Recipe.id.in_(tagged.where(Tag.name == name))


def recipe_list(
    params: dict[str, Any],
    *,
    author: User | None = None,
    include_drafts: bool = False,
    only_drafts: bool = False,
) -> RecipeList:
    """One recipe list: every filter, then a stable order (id breaks ties)."""
    dialect = db.session.get_bind().dialect.name
    statement = select(Recipe).options(joinedload(Recipe.author, innerjoin=True))
    if author is not None:
        statement = statement.where(Recipe.author_id == author.id)
    if params.get("author"):
        statement = statement.where(Recipe.author_id == _author_id(params["author"]))
    published = _visibility(dialect, one_author=author is not None or bool(params.get("author")))
    if only_drafts:
        statement = statement.where(published == False)  # noqa: E712 - indexable
    elif not include_drafts:
        statement = statement.where(published == True)  # noqa: E712 - indexable
    tags = [tag.lower() for tag in params.get("tag") or ()]
    # Searches keep the row check: the text index already chooses how to read (fulltext).
    tagged_first = statement.where(*map(_tagged, tags)) if tags and not params.get("q") else None
    statement = _filtered(statement.where(*map(_has_tag, tags)) if tags else statement, params)
    tagged_first = _filtered(tagged_first, params) if tagged_first is not None else None
    relevance = None
    counted_apart = None
    if params.get("q"):
        ranked = params.get("sort") == "relevance"
        narrow = bool(params.get("tag") or params.get("author")) or (
            params.get("max_cook_time") is not None
        )
        statement, relevance = matching(
            statement, params["q"], dialect, ranked=ranked, narrow=narrow
        )
        for_everyone = author is None and not include_drafts and not only_drafts
        if dialect == "sqlite" and for_everyone and not narrow:
            counted_apart = published_matches(params["q"])

    sort = params.get("sort") or "created_at"
    order = params.get("order") or DEFAULT_ORDER[sort]
    if sort == "relevance" and relevance is not None:
        key = relevance
    elif sort == "cook_time":
        # Recipes without a cook time sort last either way, on SQLite and PostgreSQL alike.
        key = COOK_TIME_KEYS[order]
    else:
        key = _SORT_COLUMNS[sort]
    return RecipeList(
        statement,
        sort,
        order,
        key,
        statement if tagged_first is None else tagged_first,
        counted_apart,
    )


def _filtered(statement: Select[Any], params: dict[str, Any]) -> Select[Any]:
    """The filters besides visibility, authors, tags and words: the longest cook time."""
    if params.get("max_cook_time") is not None:
        statement = statement.where(Recipe.cook_time <= params["max_cook_time"])
    return statement
