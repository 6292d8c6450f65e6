"""JSON as the API writes it (orjson: UTC datetimes with Z, decimals as strings), shared by
the HTTP plumbing and the services that keep serialized documents."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson

_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_UTC_Z


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps_json(value: Any) -> bytes:
    return orjson.dumps(value, default=_default, option=_ORJSON_OPTIONS)
