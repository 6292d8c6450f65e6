"""The server-side cache of public list pages (Flask-Caching: in process, or Redis when
REDIS_URL is set). Entries are keyed by a generation counter that lives in the database
and moves in the same transaction as every write they depend on, so every worker and
every instance stops serving a stale page at the commit, without knowing any keys."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, has_request_context, request
from flask_caching import Cache
from sqlalchemy import Select, event, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from .conditional import etag_for_bytes, not_modified
from .extensions import db
from .hot_reads import GENERATION_KEY, offer_for_replay
from .models import CacheGeneration, Recipe, Tag, User
from .pagination import count_rows

cache = Cache()
RECIPES = "recipes"
_CACHE_STATUS = "Potluck"


def bump_generation(session: Session, name: str = RECIPES) -> None:
    """Invalidate every cached answer of `name`, as part of the session's transaction."""
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(CacheGeneration).values(name=name, value=1)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[CacheGeneration.name], set_={"value": CacheGeneration.value + 1}
        )
    )


def current_generation(name: str = RECIPES) -> int:
    """The generation, read once a request: every key of one answer names the same one, read
    before any of the data it keys."""
    per_request = request.environ if has_request_context() else {}
    known: dict[str, int] = per_request.setdefault("potluck.cache_generations", {})
    if name == RECIPES and GENERATION_KEY in per_request:
        known.setdefault(name, per_request[GENERATION_KEY])  # hot_reads read it already
    if name not in known:
        query = select(CacheGeneration.value).where(CacheGeneration.name == name)
        known[name] = db.session.scalar(query) or 0
    return known[name]


@event.listens_for(Session, "before_flush")
def _invalidate_on_write(session: Session, context: Any, instances: Any) -> None:
    changed = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(obj, Recipe | Tag | User) for obj in changed):
        bump_generation(session)


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    body: bytes
    mimetype: str
    etag: str
    headers: dict[str, str]


def cached_count(statement: Select[Any], key: str) -> int:
    """How many rows `statement` gives, counted once per generation: `key` must name
    everything the count depends on (the list's filters), and nothing it does not."""
    full_key = f"count:{current_generation()}:{key}"
    total: int | None = cache.get(full_key)
    if total is None:
        total = count_rows(statement)
        cache.set(full_key, total)
    return total


def cache_status(status: str) -> dict[str, str]:
    return {"Cache-Status": f"{_CACHE_STATUS}; {status}"}


def versioned_bytes(key: str, build: Callable[[], tuple[bytes, str | None]]) -> tuple[bytes, str]:
    """Serialized bytes of one version of a resource, and the Cache-Status detail.

    `key` names the version (an ETag), so an entry never goes stale: a newer version has a
    new key. `build` returns the bytes and the key of the version it found, which is stored
    only when it is still the version asked for."""
    body: bytes | None = cache.get(key)
    if body is not None:
        return body, "hit"
    body, built_key = build()
    if built_key != key:
        return body, "fwd=miss; detail=changed"
    cache.set(key, body)
    return body, "fwd=miss; stored"


def cached_answer(variant: str, build: Callable[[], tuple[bytes, str, dict[str, str]]]) -> Response:
    """Answer a public GET from the cache, or build, store and answer it; 304 when current.

    `build` returns (body, mimetype, extra headers) and must not depend on who asks;
    `variant` names the negotiated representation (its media type)."""
    key = f"{RECIPES}:{current_generation()}:{variant}:{request.full_path}"
    entry: CachedAnswer | None = cache.get(key)
    status = "hit"
    if entry is None:
        body, mimetype, headers = build()
        entry = CachedAnswer(body, mimetype, etag_for_bytes(body), headers)
        cache.set(key, entry)
        status = "fwd=miss; stored"
    offer_for_replay()
    status_header = cache_status(status)
    fresh = not_modified(entry.etag, extra={**entry.headers, **status_header})
    if fresh is not None:
        return fresh
    response = Response(entry.body, mimetype=entry.mimetype)
    response.headers.update({**entry.headers, **status_header, "ETag": entry.etag})
    return response


def init_app(app: Flask) -> None:
    redis_url = app.config.get("REDIS_URL")
    settings = (
        {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": redis_url}
        if redis_url
        else {"CACHE_TYPE": "SimpleCache", "CACHE_THRESHOLD": 20_000}
    )
    cache.init_app(
        app, config={"CACHE_DEFAULT_TIMEOUT": 600, "CACHE_KEY_PREFIX": "potluck:", **settings}
    )
