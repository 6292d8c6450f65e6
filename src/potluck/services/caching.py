"""The server-side store (Flask-Caching: in process, or Redis when REDIS_URL is set) and
what keys it. Entries of lists are keyed by a generation counter that lives in the database
and moves in the same transaction as every write they depend on, so every worker and every
instance stops using a stale entry at the commit, without knowing any keys; serialized
resources are keyed by their version. While Redis is unreachable, every read is a miss and
nothing is kept (OutageTolerantRedisCache)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import redis
from flask import Flask, g, has_request_context
from flask_caching import Cache
from flask_caching.backends.base import BaseCache
from flask_caching.backends.rediscache import RedisCache
from sqlalchemy import Select, event, inspect, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import InstanceState, Session

from potluck.domain.database import db, narrow_rows
from potluck.domain.models import CacheGeneration, Recipe, Tag, User
from potluck.services.outages import RETRY_SECONDS, Outage

cache = Cache()
RECIPES = "recipes"
_CACHE_STATUS = "Potluck"


class MemoryCache(BaseCache):
    """The in-process store (one per worker, when there is no Redis): least recently used
    entries go first once `threshold` are kept, and each entry's timeout is checked when it
    is read. Every operation costs the same however full the store is (Flask-Caching's
    SimpleCache sorted all its entries on every write once full, about 5 ms at 20,000).

    Values are kept as they are, not pickled: what the read path keeps (bytes, counts,
    frozen answers) is never changed after it is stored."""

    def __init__(self, threshold: int = 20_000, default_timeout: int = 300) -> None:
        super().__init__(default_timeout=default_timeout)
        self.threshold = threshold
        self._entries: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def factory(
        cls, app: Flask, config: dict[str, Any], args: list[Any], kwargs: dict[str, Any]
    ) -> MemoryCache:
        return cls(config["CACHE_THRESHOLD"], config["CACHE_DEFAULT_TIMEOUT"])

    def _expiry(self, timeout: Any) -> float:
        seconds = self._normalize_timeout(timeout)
        return time.monotonic() + seconds if seconds > 0 else float("inf")

    def get(self, key: str) -> Any:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= time.monotonic():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def set(self, key: str, value: Any, timeout: Any = None) -> bool:
        entry = (self._expiry(timeout), value)
        with self._lock:
            self._keep(key, entry)
        return True

    def add(self, key: str, value: Any, timeout: Any = None) -> bool:
        entry = (self._expiry(timeout), value)
        with self._lock:
            found = self._entries.get(key)
            if found is not None and found[0] > time.monotonic():
                return False
            self._keep(key, entry)
        return True

    def _keep(self, key: str, entry: tuple[float, Any]) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.threshold:
            self._entries.popitem(last=False)

    def delete(self, key: str) -> bool:
        with self._lock:
            return self._entries.pop(key, None) is not None

    def has(self, key: str) -> bool:
        return self.get(key) is not None

    def clear(self) -> bool:
        with self._lock:
            self._entries.clear()
        return True


class OutageTolerantRedisCache(RedisCache):
    """Flask-Caching's RedisCache, where Redis being unreachable is a miss: after a Redis
    error, reads find nothing and writes keep nothing without asking Redis, until the
    outage's retry time has passed (so a request never waits on a dead Redis twice)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.outage = Outage(
            "Redis (server cache)",
            f"every read is a miss, nothing is kept; Redis is asked again in {RETRY_SECONDS:g} s",
        )

    def get(self, key: str) -> Any:
        if not self.outage.ongoing:
            try:
                return super().get(key)
            except redis.RedisError as error:
                self.outage.found(error)
        return None

    def get_many(self, *keys: str) -> list[Any]:
        if not self.outage.ongoing:
            try:
                return super().get_many(*keys)
            except redis.RedisError as error:
                self.outage.found(error)
        return [None] * len(keys)

    def set(self, key: str, value: Any, timeout: Any = None) -> Any:
        if not self.outage.ongoing:
            try:
                return super().set(key, value, timeout)
            except redis.RedisError as error:
                self.outage.found(error)
        return False

    def set_many(self, mapping: dict[str, Any], timeout: Any = None) -> list[Any]:
        if not self.outage.ongoing:
            try:
                return super().set_many(mapping, timeout)
            except redis.RedisError as error:
                self.outage.found(error)
        return []


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


def _known_generations() -> dict[str, int]:
    # Kept for the request only (g can outlive one request, under a test's app context).
    if not has_request_context():
        return {}
    known: dict[str, int] = g.setdefault("cache_generations", {})
    return known


def start_request_generations(already_read: int | None) -> None:
    """A request starts knowing no generation, or the one the replay middleware read."""
    g.cache_generations = {} if already_read is None else {RECIPES: already_read}


def current_generation(name: str = RECIPES) -> int:
    """The generation, read once a request: every key of one answer names the same one, read
    before any of the data it keys."""
    known = _known_generations()
    if name not in known:
        query = select(CacheGeneration.value).where(CacheGeneration.name == name)
        known[name] = db.session.scalar(query) or 0
    return known[name]


# What a user shows of themselves in lists and recipes (as their author).
_SHOWN_USER_FIELDS = ("username", "display_name", "bio", "is_active", "updated_at")


def _changes_public_answers(session: Session, obj: object) -> bool:
    """Whether a changed object is visible in some cached public answer. A draft's writes
    (creating one included) are nobody else's business, so they leave the counter alone:
    writers of drafts never queue on its row."""
    if isinstance(obj, Tag):
        return True
    if isinstance(obj, Recipe):
        recipe: InstanceState[Recipe] = inspect(obj)
        return bool(obj.is_publish) or recipe.attrs.is_publish.history.has_changes()
    if isinstance(obj, User):
        if obj in session.new:
            return False
        user: InstanceState[User] = inspect(obj)
        return any(user.attrs[name].history.has_changes() for name in _SHOWN_USER_FIELDS)
    return False


@event.listens_for(Session, "before_flush")
def _invalidate_on_write(session: Session, context: Any, instances: Any) -> None:
    changed = (*session.new, *session.dirty, *session.deleted)
    if any(_changes_public_answers(session, obj) for obj in changed):
        bump_generation(session)


def cached_count(counting: Select[int], key: str) -> int:
    """The count `counting` gives, asked once per generation: `key` must name everything
    the count depends on (the list's filters), and nothing it does not."""
    return per_generation(f"count:{key}", lambda: narrow_rows(counting).scalar() or 0)


def per_generation(key: str, compute: Callable[[], int]) -> int:
    """A number about the public data, computed once per cache generation."""
    full_key = f"{key}:{current_generation()}"
    value: int | None = cache.get(full_key)
    if value is None:
        value = compute()
        cache.set(full_key, value)
    return value


def versioned_bytes(key: str, build: Callable[[], tuple[bytes, str | None]]) -> tuple[bytes, str]:
    """Serialized bytes of one version of a resource, and the Cache-Status detail.

    `key` names the version (a version key), so an entry never goes stale: a newer version has a
    new key. `build` returns the bytes and the key of the version it found, which is stored
    only when it is still the version asked for."""
    body: bytes | None = cache.get(key)
    if body is not None:
        return body, "hit"
    body, built_key = build()
    if built_key != key:
        return body, "fwd=miss; detail=changed"
    return body, "fwd=miss; stored" if cache.set(key, body) else "fwd=miss"
