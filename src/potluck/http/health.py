"""Probes for orchestrators and load balancers: /healthz (the process answers; touches
nothing) and /readyz (the database answers and is at the migrations' head, and Redis
answers when REDIS_URL is set). Never cached, never rate limited, never replayed."""

from __future__ import annotations

from typing import Any

import orjson
import redis
from flask import Flask, Response, current_app
from sqlalchemy.exc import SQLAlchemyError

from potluck.http.errors import problem
from potluck.http.limits import limiter
from potluck.http.persistence import migrations_behind

OK = "ok"
RETRY_AFTER_SECONDS = "5"
# A probe must answer quickly even when Redis is gone.
REDIS_TIMEOUT_SECONDS = 1.0


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def healthz() -> Response:
    return _no_store(Response(b'{"status":"ok"}', mimetype="application/json"))


def _database_checks() -> dict[str, str]:
    try:
        behind = migrations_behind()
    except SQLAlchemyError as error:
        # The class only: a driver's message can name hosts and users.
        return {"database": f"unreachable ({type(error).__name__})", "migrations": "unknown"}
    return {"database": OK, "migrations": behind or OK}


def _redis_check(url: str) -> str:
    # A connection per probe (one every few seconds): nothing held between probes.
    client = redis.Redis.from_url(
        url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS
    )
    try:
        client.ping()
    except redis.RedisError as error:
        return f"unreachable ({type(error).__name__})"
    finally:
        client.close()
    return OK


def readiness() -> dict[str, str]:
    """Each check's result: "ok" or what is wrong."""
    checks = _database_checks()
    if url := current_app.config["REDIS_URL"]:
        checks["redis"] = _redis_check(url)
    return checks


def readyz() -> Response:
    checks = readiness()
    failed = {name: result for name, result in checks.items() if result != OK}
    if failed:
        detail = "Not ready: " + "; ".join(f"{name} {result}" for name, result in failed.items())
        return problem(503, detail, headers={"Retry-After": RETRY_AFTER_SECONDS}, checks=checks)
    body: dict[str, Any] = {"status": "ready", "checks": checks}
    return _no_store(Response(orjson.dumps(body), mimetype="application/json"))


def init_app(app: Flask) -> None:
    app.add_url_rule("/healthz", "healthz", limiter.exempt(healthz), methods=["GET"])
    app.add_url_rule("/readyz", "readyz", limiter.exempt(readyz), methods=["GET"])
