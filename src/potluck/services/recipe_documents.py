"""Recipes as JSON documents, serialized once per version and shared by every answer that
shows them: GET one recipe and every page of every list. A document is keyed by the
recipe's version key (its version and its author's, what its ETag is the digest of), so an
entry never goes stale and no write has to find it; a list page reads its rows' versions
alone (narrow rows sort cheaply), takes the documents the cache holds and serializes only
the missing ones, from one query."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import bindparam, select

from potluck.domain.database import narrow_rows
from potluck.domain.models import Recipe, RecipeCover, Tag, User, UserAvatar, recipe_tags
from potluck.domain.recipes import RecipeVersion
from potluck.schemas.encoding import dumps_json
from potluck.schemas.recipes import RecipeOutputSchema
from potluck.services.caching import cache

# One instance for every document: building a schema copies its fields, which cost more than
# dumping a recipe with it (dumping keeps no state, so threads may share it).
_DOCUMENT = RecipeOutputSchema()

# The recipe's own columns that its document shows: the schema's fields that are columns.
_RECIPE_FIELDS = tuple(name for name in _DOCUMENT.fields if name in Recipe.__table__.c)

# What a list row selects besides its sort key: enough to name the version of its document.
VERSION_COLUMNS = (
    Recipe.id,
    Recipe.author_id,
    Recipe.is_publish,
    Recipe.version,
    Recipe.updated_at,
)


def recipe_document(recipe: Recipe | Mapping[str, Any]) -> bytes:
    """The recipe as the API shows it (RecipeOutputSchema), serialized: from its model, or
    from the plain fields the schema reads (a list page's missing documents)."""
    return dumps_json(_DOCUMENT.dump(recipe))


# The authors' versions of a page's rows, by primary key.
_AUTHOR_VERSIONS = select(User.id, User.version, User.updated_at).where(
    User.id.in_(bindparam("ids", expanding=True))
)


def versions_of(rows: Sequence[Any]) -> list[RecipeVersion]:
    """The versions of list rows (VERSION_COLUMNS first), with their authors' versions from
    one primary-key query."""
    if not rows:
        return []
    authors = {
        author_id: (version, updated_at)
        for author_id, version, updated_at in narrow_rows(
            _AUTHOR_VERSIONS, {"ids": list({row[1] for row in rows})}
        )
    }
    return [
        RecipeVersion(
            row[0], row[1], row[2], row[3], authors[row[1]][0], row[4], authors[row[1]][1]
        )
        for row in rows
    ]


def recipe_documents(versions: Sequence[RecipeVersion]) -> list[bytes]:
    """The document of each version, in order: from the cache, or built in one query."""
    keys = [version.key for version in versions]
    documents: list[bytes | None] = list(cache.get_many(*keys)) if keys else []
    missing = [version.id for version, found in zip(versions, documents, strict=True) if not found]
    if missing:
        built: dict[int, bytes] = {}
        stored: dict[str, bytes] = {}
        for key, fields in _documents_fields(missing):
            document = recipe_document(fields)
            built[fields["id"]] = document
            # Stored under the version it is: a write since the list was read makes a newer one.
            stored[key] = document
        cache.set_many(stored)
        documents = [
            found or built.get(version.id)
            for version, found in zip(versions, documents, strict=True)
        ]
    # A recipe deleted between the two queries drops out of the page.
    return [document for document in documents if document is not None]


# A missing document's fields in two plain queries, without loading models: the recipe with
# its author, cover and avatar, then its tags. The schema reads them as it reads a Recipe.
_DOCUMENT_ROWS = (
    select(
        *(getattr(Recipe, name) for name in _RECIPE_FIELDS),
        RecipeCover.image_hash,
        User.username,
        UserAvatar.image_hash,
        Recipe.author_id,
        Recipe.version,
        User.version,
        User.updated_at,
    )
    .join(User, User.id == Recipe.author_id)
    .outerjoin(RecipeCover, RecipeCover.recipe_id == Recipe.id)
    .outerjoin(UserAvatar, UserAvatar.user_id == User.id)
    .where(Recipe.id.in_(bindparam("ids", expanding=True)))
)
_TAG_ROWS = (
    select(recipe_tags.c.recipe_id, Tag.name)
    .join(Tag, Tag.id == recipe_tags.c.tag_id)
    .where(recipe_tags.c.recipe_id.in_(bindparam("ids", expanding=True)))
    .order_by(Tag.name)
)


def _documents_fields(ids: list[int]) -> list[tuple[str, dict[str, Any]]]:
    """(version key, the fields RecipeOutputSchema reads) of each of these recipes that
    exists."""
    tags: dict[int, list[str]] = {}
    for recipe_id, name in narrow_rows(_TAG_ROWS, {"ids": ids}):
        tags.setdefault(recipe_id, []).append(name)
    documents = []
    for row in narrow_rows(_DOCUMENT_ROWS, {"ids": ids}):
        fields = dict(zip(_RECIPE_FIELDS, row, strict=False))
        cover, username, avatar, author_id, version, author_version, author_updated = row[
            len(_RECIPE_FIELDS) :
        ]
        fields["tags"] = tags.get(fields["id"], [])
        fields["cover_hash"] = cover
        fields["author"] = {"id": author_id, "username": username, "avatar_hash": avatar}
        key = RecipeVersion(
            fields["id"],
            author_id,
            fields["is_publish"],
            version,
            author_version,
            fields["updated_at"],
            author_updated,
        ).key
        documents.append((key, fields))
    return documents
