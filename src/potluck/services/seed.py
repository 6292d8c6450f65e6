"""Generated users and published recipes: demo data for newcomers and large benchmark sets."""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from itertools import islice
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from potluck.domain.database import db
from potluck.domain.models import Recipe, User, recipe_tags, utcnow
from potluck.domain.recipes import tags_named
from potluck.services.caching import bump_generation
from potluck.services.demo_content import recipe_content, usernames
from potluck.services.passwords import hash_password
from potluck.services.search_index import fill_index, filled_in_bulk

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "potluck-demo"  # noqa: S105 - development demo data only, printed to the user
BATCH = 5_000
LINK_BATCH = 10_000  # two parameters a row, within SQLite's 32,766 a statement


def _batches(rows: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    while batch := list(islice(rows, size)):
        yield batch


def _add_users(rng: random.Random, count: int, demo: bool) -> list[int]:
    taken = set(db.session.scalars(select(func.lower(User.username))))
    names = [name for name in usernames(rng, count + len(taken)) if name not in taken][:count]
    if demo:
        names = [DEMO_USERNAME, *names[: count - 1]]
    # Generated accounts share one hash: of the demo password, or of a secret nobody keeps.
    password_hash = hash_password(DEMO_PASSWORD if demo else secrets.token_urlsafe(32))
    now = utcnow()
    rows = [
        {
            "username": name,
            "email": f"{name}@example.com",
            "password_hash": password_hash,
            "display_name": name.replace(".", " ").replace("_", " ").title(),
            "bio": "",
            "is_active": True,
            "confirmed_at": now,
            "session_generation": 0,
            "created_at": now,
            "updated_at": now,
        }
        for name in names
    ]
    result = db.session.execute(insert(User).returning(User.id, sort_by_parameter_order=True), rows)
    return list(result.scalars())


def _insert_recipes(session: Session, batch: list[dict[str, Any]]) -> list[int]:
    """Insert a batch of recipes, returning their ids in order."""
    if session.get_bind().dialect.name == "postgresql":
        returning = insert(Recipe).returning(Recipe.id, sort_by_parameter_order=True)
        return list(session.execute(returning, batch).scalars())
    # SQLite can return ids in order only one row per statement: number the rows instead,
    # safe because the seed's transaction holds the only write lock from its first insert on.
    first = (session.scalar(select(func.max(Recipe.id))) or 0) + 1
    ids = list(range(first, first + len(batch)))
    session.execute(
        insert(Recipe.__table__),
        [{**row, "id": recipe_id} for row, recipe_id in zip(batch, ids, strict=True)],
    )
    return ids


@contextmanager
def _larger_page_cache(session: Session) -> Iterator[None]:
    """Random created_at and names scatter inserts over every index: on SQLite a larger page
    cache (a fixed 256 MiB, whatever the number of recipes) saves reading pages again."""
    if session.get_bind().dialect.name != "sqlite":
        yield
        return
    usual = session.scalar(text("PRAGMA cache_size"))
    session.execute(text("PRAGMA cache_size = -262144"))
    try:
        yield
    finally:
        session.execute(text(f"PRAGMA cache_size = {int(usual or -2000)}"))


def seed_database(
    *, users: int, recipes: int, drafts: int = 0, random_seed: int = 1, demo: bool = False
) -> tuple[int, int]:
    """Add `users` users, `recipes` published recipes and `drafts` drafts after them (the
    newest rows, as a site's drafts mostly are; the published ones are the same with or
    without them); returns the users and the recipes added."""
    rng = random.Random(random_seed)
    author_ids = _add_users(rng, users, demo)
    now = utcnow()
    tag_ids: dict[str, int] = {}
    contents: dict[int, list[str]] = {}

    def rows() -> Iterator[dict[str, Any]]:
        for index in range(recipes + drafts):
            published = index < recipes
            content: dict[str, Any] = dict(recipe_content(rng))
            created = now - timedelta(seconds=rng.randrange(2 * 365 * 86400))
            contents[index] = content.pop("tags")
            yield {
                **content,
                "author_id": rng.choice(author_ids),
                "source_url": None,
                "is_publish": published,
                "published_at": created if published else None,
                "version": 1,
                "created_at": created,
                "updated_at": created,
            }

    added = 0
    session = db.session()
    with _larger_page_cache(session), filled_in_bulk(session):
        for batch in _batches(rows(), BATCH):
            ids = _insert_recipes(session, batch)
            batch_tags = {index: contents.pop(index) for index in range(added, added + len(batch))}
            new_names = {name for names in batch_tags.values() for name in names} - tag_ids.keys()
            tag_ids.update({tag.name: tag.id for tag in tags_named(new_names)})
            links = [
                {"recipe_id": recipe_id, "tag_id": tag_ids[name]}
                for recipe_id, names in zip(ids, batch_tags.values(), strict=True)
                for name in names
            ]
            # Multi-row INSERTs: PostgreSQL's count triggers then update each tag once a statement.
            for chunk in _batches(iter(links), LINK_BATCH):
                session.execute(insert(recipe_tags).values(chunk))
            fill_index(session, ids[0], ids[-1])
            added += len(batch)
    bump_generation(db.session())  # bulk inserts bypass the ORM's flush hooks
    db.session.commit()
    return len(author_ids), added
