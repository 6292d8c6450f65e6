"""Recipes as JSON documents, serialized once per version and shared by every answer that
shows them: GET one recipe and every page of every list. A document is keyed by the
recipe's ETag (its version and its author's), so an entry never goes stale and no write has
to find it; a list page reads its rows' versions alone (narrow rows sort cheaply), takes the
documents the cache holds and serializes only the missing ones, from one query."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from potluck.domain.database import db
from potluck.domain.models import Recipe, User
from potluck.domain.recipes import RecipeVersion
from potluck.schemas.encoding import dumps_json
from potluck.schemas.recipes import RecipeOutputSchema
from potluck.services.caching import cache

# One instance for every document: building a schema copies its fields, which cost more than
# dumping a recipe with it (dumping keeps no state, so threads may share it).
_DOCUMENT = RecipeOutputSchema()

# What a list row selects besides its sort key: enough to name the version of its document.
VERSION_COLUMNS = (
    Recipe.id,
    Recipe.author_id,
    Recipe.is_publish,
    Recipe.version,
    Recipe.updated_at,
)


def recipe_document(recipe: Recipe) -> bytes:
    """The recipe as the API shows it (RecipeOutputSchema), serialized."""
    return dumps_json(_DOCUMENT.dump(recipe))


def versions_of(rows: Sequence[Any]) -> list[RecipeVersion]:
    """The versions of list rows (VERSION_COLUMNS first), with their authors' versions from
    one primary-key query."""
    author_ids = {row[1] for row in rows}
    authors = (
        {
            author_id: (version, updated_at)
            for author_id, version, updated_at in db.session.execute(
                select(User.id, User.version, User.updated_at).where(User.id.in_(author_ids))
            )
        }
        if author_ids
        else {}
    )
    return [
        RecipeVersion(
            row[0], row[1], row[2], row[3], authors[row[1]][0], row[4], authors[row[1]][1]
        )
        for row in rows
    ]


def recipe_documents(versions: Sequence[RecipeVersion]) -> list[bytes]:
    """The document of each version, in order: from the cache, or built in one query."""
    keys = [version.etag for version in versions]
    documents: list[bytes | None] = list(cache.get_many(*keys)) if keys else []
    missing = [version.id for version, found in zip(versions, documents, strict=True) if not found]
    if missing:
        built: dict[int, bytes] = {}
        stored: dict[str, bytes] = {}
        recipes = db.session.scalars(
            select(Recipe).where(Recipe.id.in_(missing)).options(joinedload(Recipe.author))
        ).unique()
        for recipe in recipes:
            document = recipe_document(recipe)
            built[recipe.id] = document
            # Stored under the version it is: a write since the list was read makes a newer one.
            stored[RecipeVersion.of(recipe).etag] = document
        cache.set_many(stored)
        documents = [
            found or built.get(version.id)
            for version, found in zip(versions, documents, strict=True)
        ]
    # A recipe deleted between the two queries drops out of the page.
    return [document for document in documents if document is not None]
