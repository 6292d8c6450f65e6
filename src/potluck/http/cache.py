"""The server-side cache (Flask-Caching: in process, or Redis when REDIS_URL is set), bound
to the app, and the `Cache-Status` (RFC 9211) of answers that asked it. What is kept and
under which key is the read path's business (reads.py)."""

from __future__ import annotations

from flask import Flask, request

from potluck.http.hot_reads import GENERATION_KEY
from potluck.services.caching import (
    MemoryCache,
    OutageTolerantRedisCache,
    cache,
    start_request_generations,
)

_CACHE_STATUS = "Potluck"


def cache_status(status: str) -> dict[str, str]:
    return {"Cache-Status": f"{_CACHE_STATUS}; {status}"}


def _generation_from_replay() -> None:
    # The replay middleware may have read the generation before Flask ran.
    start_request_generations(request.environ.get(GENERATION_KEY))


def init_app(app: Flask) -> None:
    app.before_request(_generation_from_replay)
    redis_url = app.config.get("REDIS_URL")
    tolerant = f"{OutageTolerantRedisCache.__module__}.{OutageTolerantRedisCache.__name__}"
    memory = f"{MemoryCache.__module__}.{MemoryCache.__name__}"
    settings = (
        {
            "CACHE_TYPE": tolerant,
            "CACHE_REDIS_URL": redis_url,
            # A Redis that stopped answering (not one that refuses) costs a second, not minutes.
            "CACHE_OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
        if redis_url
        else {"CACHE_TYPE": memory, "CACHE_THRESHOLD": 20_000}
    )
    cache.init_app(
        app, config={"CACHE_DEFAULT_TIMEOUT": 600, "CACHE_KEY_PREFIX": "potluck:", **settings}
    )
