"""How log lines look: readable text, or one JSON object a line (LOG_FORMAT=json) with
time, level, logger, message and request_id, plus whatever fields a line carries (the
access log's method, route, status, duration_ms and client)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from pythonjsonlogger.json import JsonFormatter

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"


def json_formatter() -> logging.Formatter:
    return JsonFormatter(
        "{levelname}{name}{message}{request_id}",
        style="{",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",  # ISO 8601, UTC
        defaults={"request_id": "-"},  # lines of no request (the server's own)
    )


def formatter(log_format: str) -> logging.Formatter:
    return json_formatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def write_granian_json_config(path: Path) -> Path:
    """A logging configuration (dictConfig, as granian's --log-config reads it) that makes
    granian's own lines JSON too."""
    config: dict[str, Any] = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.json_formatter"}},
        "handlers": {
            "json": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stdout",
            }
        },
        "loggers": {
            "_granian": {"handlers": ["json"], "level": "INFO", "propagate": False},
            "granian.access": {"handlers": ["json"], "level": "INFO", "propagate": False},
        },
    }
    path.write_text(json.dumps(config))
    return path
