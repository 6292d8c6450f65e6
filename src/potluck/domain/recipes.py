"""Recipe rules shared by the API and the web pages: who sees and changes what, and how
a validated document is written onto a recipe."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from potluck.domain.database import db, narrow_rows
from potluck.domain.errors import Forbidden, NotFound
from potluck.domain.models import Recipe, Tag, User, utcnow, visible
from potluck.domain.preconditions import Preconditions, entity_tag


class _Visible(Protocol):
    def visible_to(self, viewer: User | None) -> bool: ...


# A recipe or its version: whatever knows whom it is visible to.
Readable = TypeVar("Readable", bound=_Visible)

# A PUT resets what the client left out to these.
RECIPE_DEFAULTS: dict[str, Any] = {
    "description": "",
    "num_of_servings": 1,
    "cook_time": None,
    "prep_time": None,
    "ingredients": [],
    "directions": [],
    "tags": [],
    "source_url": None,
}


def tags_named(names: Iterable[str]) -> list[Tag]:
    """The tags with these names, created if new; safe when two requests create one at once.
    Most tags exist already: they are read, and only a new one is written (a write would
    begin the transaction's hold on the database before the recipe itself is ready)."""
    wanted = sorted(set(names))
    if not wanted:
        return []
    found = _tags_in(wanted)
    if len(found) < len(wanted):
        known = {tag.name for tag in found}
        dialect = db.session.get_bind().dialect.name
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        new = [{"name": name} for name in wanted if name not in known]
        db.session.execute(insert(Tag).values(new).on_conflict_do_nothing())
        found = _tags_in(wanted)
    return found


def _tags_in(names: list[str]) -> list[Tag]:
    return list(db.session.scalars(select(Tag).where(Tag.name.in_(names)).order_by(Tag.name)))


def readable_recipe(recipe_id: int, viewer: User | None) -> Recipe:
    """The recipe, or 404 when it does not exist or is someone else's draft (no hint which)."""
    return _readable(db.session.get(Recipe, recipe_id), recipe_id, viewer)


def writable_recipe(recipe_id: int, user: User, expected: Preconditions) -> Recipe:
    """The recipe to change: the author's own, and as the caller last saw it (`expected`)."""
    recipe = readable_recipe(recipe_id, user)
    if recipe.author_id != user.id:
        raise Forbidden("Only the author of a recipe can change it.")
    current = RecipeVersion.of(recipe)
    expected.check(current.etag, current.last_modified)
    return recipe


@dataclass(frozen=True, slots=True)
class RecipeVersion:
    """What a recipe's validators and visibility depend on, without the recipe itself."""

    id: int
    author_id: int
    is_publish: bool
    version: int
    author_version: int
    updated_at: datetime
    author_updated_at: datetime

    @classmethod
    def of(cls, recipe: Recipe) -> RecipeVersion:
        author = recipe.author
        return cls(
            recipe.id,
            recipe.author_id,
            recipe.is_publish,
            recipe.version,
            author.version,
            recipe.updated_at,
            author.updated_at,
        )

    @property
    def key(self) -> str:
        """What the recipe's representations are made from: its and its author's versions
        (either changes them), and the update instant, since SQLite reuses a deleted
        recipe's id and a new recipe there starts at the same version."""
        written = int(self.updated_at.timestamp() * 1_000_000)
        return f"r{self.id}.{self.version}.{self.author_version}.{written:x}"

    @property
    def etag(self) -> str:
        """The ETag of the recipe's JSON document, which If-Match compares."""
        return entity_tag(self.key)

    @property
    def last_modified(self) -> datetime:
        return max(self.updated_at, self.author_updated_at)

    def visible_to(self, viewer: User | None) -> bool:
        return visible(self.is_publish, self.author_id, viewer)


_VERSION_OF_RECIPE = (
    select(
        Recipe.id,
        Recipe.author_id,
        Recipe.is_publish,
        Recipe.version,
        User.version,
        Recipe.updated_at,
        User.updated_at,
    )
    .join(User, Recipe.author_id == User.id)
    .where(Recipe.id == bindparam("recipe_id"))
)


def readable_version(recipe_id: int, viewer: User | None) -> RecipeVersion:
    """A recipe's version from one indexed Core query, or 404 as readable_recipe gives it."""
    row = narrow_rows(_VERSION_OF_RECIPE, {"recipe_id": recipe_id}).first()
    return _readable(RecipeVersion(*row) if row else None, recipe_id, viewer)


def _readable(found: Readable | None, recipe_id: int, viewer: User | None) -> Readable:
    if found is None or not found.visible_to(viewer):
        raise NotFound(f"There is no recipe {recipe_id}.")
    return found


def create_recipe(author: User, data: dict[str, Any]) -> Recipe:
    """A new draft of `author` with validated fields, added to the session."""
    recipe = Recipe(author=author, cover_image=None)  # known to have no cover: no lookup
    db.session.add(recipe)
    write_fields(recipe, data)
    return recipe


def write_fields(recipe: Recipe, data: dict[str, Any]) -> None:
    """Apply validated fields; the row is always touched so its version moves on. Nothing is
    flushed meanwhile (looking up tags would), so the row is written once, whole."""
    with db.session.no_autoflush:
        for field, value in data.items():
            if field == "tags":
                recipe.tag_objects = tags_named(value)
            else:
                setattr(recipe, field, value)
        recipe.updated_at = utcnow()


def set_published(recipe: Recipe, published: bool) -> None:
    if recipe.is_publish != published:
        recipe.is_publish = published
        recipe.published_at = utcnow() if published else None
        recipe.updated_at = utcnow()
