"""The app factory: settings, extensions bound, plumbing and blueprints registered."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
from dotenv import load_dotenv
from flask import Flask
from flask_migrate import Migrate
from sqlalchemy import event
from sqlalchemy.engine import Engine

from potluck import api
from potluck.app import logs
from potluck.app.config import load_settings
from potluck.domain.database import db
from potluck.http import (
    api_keys,
    auth,
    cache,
    headers,
    hot_reads,
    idempotency,
    limits,
    operations,
    persistence,
    proxies,
)
from potluck.http import errors as http
from potluck.http.auth import jwt
from potluck.services import outbox, storage

__all__ = ["create_app"]

migrate = Migrate()


def create_app(
    config: Mapping[str, Any] | None = None, *, environ: Mapping[str, str] | None = None
) -> Flask:
    """The application factory: settings from `environ` (default: the process environment and
    `.env`), then `config` on top."""
    if environ is None:
        load_dotenv(Path.cwd() / ".env", override=False)
    settings = load_settings(environ)
    settings.update(config or {})
    app = Flask("potluck", instance_path=settings["INSTANCE_PATH"], instance_relative_config=True)
    app.config.update(settings)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
        **app.config["SQLALCHEMY_ENGINE_OPTIONS"],
        # Keep non-ASCII text readable in JSON columns, so LIKE searches match it.
        "json_serializer": lambda value: orjson.dumps(value).decode(),
        "json_deserializer": orjson.loads,
    }
    _configure_logging(app.config["LOG_FORMAT"])
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        Path(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )

    db.init_app(app)
    migrate.init_app(app, db, directory=app.config["MIGRATIONS_DIR"], render_as_batch=True)
    jwt.init_app(app)
    http.init_app(app)
    hot_reads.init_app(app)  # inside TrustedProxies (proxies.init_app), so it sees real clients
    headers.init_app(app)
    operations.init_app(app)  # health, metrics, maintenance; outside the replay, inside proxies
    cache.init_app(app)
    proxies.init_app(app)
    storage.init_app(app)
    auth.init_app(app)
    api_keys.init_app(app)
    limits.init_app(app)
    outbox.init_app(app)
    idempotency.init_app(app)  # after the limits: a refused request stores nothing
    persistence.init_app(app)
    api.init_app(app)

    from potluck import web

    web.init_app(app)
    return app


def _configure_logging(log_format: str) -> None:
    """Our own handler on the `potluck` logger, whatever the server did to the root logger."""
    logger = logging.getLogger("potluck")
    handler = next((h for h in logger.handlers if isinstance(h, PotluckLogHandler)), None)
    if handler is None:
        handler = PotluckLogHandler()
        handler.addFilter(headers.RequestIdFilter())
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    handler.setFormatter(logs.formatter(log_format))


class PotluckLogHandler(logging.StreamHandler):  # type: ignore[type-arg]
    pass


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(connection: Any, record: Any) -> None:
    # WAL lets readers and one writer work at once; foreign keys are off by default in SQLite.
    if isinstance(connection, sqlite3.Connection):
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()
        # SQLite's own lower() folds ASCII only; searches must match "Éclair" with "éclair".
        connection.create_function("lower", 1, _lower, deterministic=True)


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value
