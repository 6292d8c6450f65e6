"""Conditional requests (RFC 9110, section 13): ETags, Last-Modified, 304 and 412.

Strong ETags name one representation (domain.preconditions.entity_tag; http.reads gives
them); a gzip-encoded body gets the same tag with a `-gzip` suffix, which every comparison
folds back, so either form revalidates. The rules of
a write's preconditions are the domain's (potluck.domain.preconditions)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from flask import Response, request
from werkzeug.http import http_date, parse_date

from potluck.domain.preconditions import (
    NO_PRECONDITIONS,
    Preconditions,
    etag_listed,
)


def not_modified_since(last_modified: datetime | None) -> bool:
    # If-None-Match wins when both are sent (RFC 9110, 13.1.3).
    if last_modified is None or "If-None-Match" in request.headers:
        return False
    since = parse_date(request.headers.get("If-Modified-Since"))
    return since is not None and int(last_modified.timestamp()) <= int(since.timestamp())


def validator_headers(etag: str, last_modified: datetime | None = None) -> dict[str, str]:
    headers = {"ETag": etag}
    if last_modified is not None:
        headers["Last-Modified"] = http_date(last_modified)
    return headers


def not_modified(
    etag: str, last_modified: datetime | None = None, extra: Mapping[str, str] | None = None
) -> Response | None:
    """A 304 carrying the validators when a GET/HEAD's copy is current, else None."""
    if request.method not in {"GET", "HEAD"}:
        return None
    held = etag_listed(request.headers.get("If-None-Match"), etag)
    if held is not None or not_modified_since(last_modified):
        response = Response(status=304)
        response.headers.update(validator_headers(held or etag, last_modified))
        response.headers.update(extra or {})
        return response
    return None


def request_preconditions() -> Preconditions:
    """What the request's conditional headers expect of the resource it writes."""
    headers = request.headers
    if not any(name in headers for name in ("If-Match", "If-None-Match", "If-Unmodified-Since")):
        return NO_PRECONDITIONS
    return Preconditions(
        if_match=headers.get("If-Match"),  # a value that names no entity tag matches none
        if_none_match=headers.get("If-None-Match"),
        if_unmodified_since=parse_date(headers.get("If-Unmodified-Since")),
    )


def require_match(current_etag: str, last_modified: datetime | None = None) -> None:
    """Honour the preconditions of a write on a resource at `current_etag` (412 if not met)."""
    request_preconditions().check(current_etag, last_modified)
