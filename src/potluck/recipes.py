"""Recipe rules shared by the API and the web pages: who sees and changes what, and how
a validated document is written onto a recipe."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .conditional import require_match, validator_headers
from .extensions import db
from .http import abort
from .models import Recipe, Tag, User, utcnow

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
    """The tags with these names, created if new; safe when two requests create one at once."""
    wanted = sorted(set(names))
    if not wanted:
        return []
    dialect = db.session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    db.session.execute(
        insert(Tag).values([{"name": name} for name in wanted]).on_conflict_do_nothing()
    )
    return list(db.session.scalars(select(Tag).where(Tag.name.in_(wanted)).order_by(Tag.name)))


def readable_recipe(recipe_id: int, viewer: User | None) -> Recipe:
    """The recipe, or 404 when it does not exist or is someone else's draft (no hint which)."""
    recipe = db.session.get(Recipe, recipe_id)
    if recipe is None or not recipe.visible_to(viewer):
        abort(404, f"There is no recipe {recipe_id}.")
    return recipe


def writable_recipe(recipe_id: int, user: User) -> Recipe:
    """The recipe to change: the author's own, and as the client last saw it (If-Match)."""
    recipe = readable_recipe(recipe_id, user)
    if recipe.author_id != user.id:
        abort(403, "Only the author of a recipe can change it.")
    require_match(recipe_etag(recipe), recipe_last_modified(recipe))
    return recipe


def recipe_etag(recipe: Recipe) -> str:
    # The recipe's and its author's versions: either changes the representation.
    return f'"r{recipe.id}.{recipe.version}.{recipe.author.version}"'


def recipe_last_modified(recipe: Recipe) -> datetime:
    return max(recipe.updated_at, recipe.author.updated_at)


def recipe_headers(recipe: Recipe) -> dict[str, str]:
    """Validators and caching for a recipe's representation."""
    headers = validator_headers(recipe_etag(recipe), recipe_last_modified(recipe))
    audience = "public" if recipe.is_publish else "private"
    headers["Cache-Control"] = f"{audience}, no-cache"
    return headers


def write_fields(recipe: Recipe, data: dict[str, Any]) -> None:
    """Apply validated fields; the row is always touched so its version moves on."""
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
