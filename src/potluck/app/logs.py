"""How log lines look: readable text, or one JSON object a line (LOG_FORMAT=json) with
time, level, logger, message and request_id, plus whatever fields a line carries (the
access log's method, route, status, duration_ms and client)."""

from __future__ import annotations

import logging

from pythonjsonlogger.json import JsonFormatter

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"


def formatter(log_format: str) -> logging.Formatter:
    if log_format != "json":
        return logging.Formatter(TEXT_FORMAT)
    return JsonFormatter(
        "{levelname}{name}{message}{request_id}",
        style="{",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",  # ISO 8601, UTC
    )
