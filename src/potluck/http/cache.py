"""The server-side cache of public list pages (Flask-Caching: in process, or Redis when
REDIS_URL is set). Entries are keyed by a generation counter that lives in the database
and moves in the same transaction as every write they depend on, so every worker and
every instance stops serving a stale page at the commit, without knowing any keys."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, Response, request

from potluck.http.conditional import etag_for_bytes, not_modified
from potluck.http.hot_reads import GENERATION_KEY, offer_for_replay
from potluck.services.caching import (
    RECIPES,
    OutageTolerantRedisCache,
    cache,
    current_generation,
    start_request_generations,
)

_CACHE_STATUS = "Potluck"


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    body: bytes
    mimetype: str
    etag: str
    headers: dict[str, str]


def cache_status(status: str) -> dict[str, str]:
    return {"Cache-Status": f"{_CACHE_STATUS}; {status}"}


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
        status = "fwd=miss; stored" if cache.set(key, entry) else "fwd=miss"
    offer_for_replay()
    status_header = cache_status(status)
    fresh = not_modified(entry.etag, extra={**entry.headers, **status_header})
    if fresh is not None:
        return fresh
    response = Response(entry.body, mimetype=entry.mimetype)
    response.headers.update({**entry.headers, **status_header, "ETag": entry.etag})
    return response


def _generation_from_replay() -> None:
    # The replay middleware may have read the generation before Flask ran.
    start_request_generations(request.environ.get(GENERATION_KEY))


def init_app(app: Flask) -> None:
    app.before_request(_generation_from_replay)
    redis_url = app.config.get("REDIS_URL")
    tolerant = f"{OutageTolerantRedisCache.__module__}.{OutageTolerantRedisCache.__name__}"
    settings = (
        {
            "CACHE_TYPE": tolerant,
            "CACHE_REDIS_URL": redis_url,
            # A Redis that stopped answering (not one that refuses) costs a second, not minutes.
            "CACHE_OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
        if redis_url
        else {"CACHE_TYPE": "SimpleCache", "CACHE_THRESHOLD": 20_000}
    )
    cache.init_app(
        app, config={"CACHE_DEFAULT_TIMEOUT": 600, "CACHE_KEY_PREFIX": "potluck:", **settings}
    )
