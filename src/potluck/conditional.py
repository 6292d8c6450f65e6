"""Conditional requests (RFC 9110, section 13): ETags, Last-Modified, 304 and 412.

Strong ETags name one representation; a gzip-encoded body gets the same tag with a
`-gzip` suffix, which every comparison here folds back, so either form revalidates.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import datetime

from flask import Response, request
from werkzeug.http import http_date, parse_date

from .http import abort

_ETAG = re.compile(r'\s*(W/)?"([^"]*)"\s*(?:,|$)')
GZIP_SUFFIX = "-gzip"


def etag_for_bytes(body: bytes) -> str:
    return f'"{hashlib.blake2b(body, digest_size=12).hexdigest()}"'


def _opaque(tag: str) -> str:
    tag = tag.strip().removeprefix("W/").strip('"')
    return tag.removesuffix(GZIP_SUFFIX)


def _listed_tags(header: str) -> list[tuple[bool, str]] | None:
    """The (weak, opaque-tag) pairs of an If-Match/If-None-Match list; None for `*`."""
    if header.strip() == "*":
        return None
    return [(bool(weak), _opaque(tag)) for weak, tag in _ETAG.findall(header)]


def etag_listed(header: str | None, etag: str) -> str | None:
    """When an If-None-Match `header` lists `etag` (weak comparison), the form the client
    holds: with the gzip suffix if that is what it sent. None when it is not listed."""
    if header is None:
        return None
    tags = _listed_tags(header)
    if tags is not None and not any(tag == _opaque(etag) for _, tag in tags):
        return None
    gzipped = etag[:-1] + GZIP_SUFFIX + '"'
    return gzipped if gzipped in header else etag


def none_match(etag: str) -> bool:
    """If-None-Match says the client's copy is current (weak comparison)."""
    return etag_listed(request.headers.get("If-None-Match"), etag) is not None


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


def require_match(current_etag: str | None, last_modified: datetime | None = None) -> None:
    """Honour the preconditions of a write: If-Match must match the current representation,
    If-None-Match must not (RFC 9110, 13.1.1-2); either failing is a 412."""
    if current_etag is not None and none_match(current_etag):
        abort(
            412,
            "If-None-Match matches the current representation, so this write is refused.",
            headers={"ETag": current_etag},
        )
    header = request.headers.get("If-Match")
    if header is None:
        since = parse_date(request.headers.get("If-Unmodified-Since"))
        if since and last_modified and int(last_modified.timestamp()) > int(since.timestamp()):
            abort(
                412,
                "The resource was modified after If-Unmodified-Since; GET it again and retry.",
                headers={"ETag": current_etag} if current_etag else {},
            )
        return
    tags = _listed_tags(header)
    if current_etag is not None and (
        tags is None or any(not weak and tag == _opaque(current_etag) for weak, tag in tags)
    ):
        return
    abort(
        412,
        "The resource has changed since you read it (If-Match does not match its ETag); "
        "GET it again, reapply your change and retry.",
        headers={"ETag": current_etag} if current_etag else {},
    )
