"""Preconditions of a write (RFC 9110, 13.1): what the caller believes the current version
is, checked against the version found, so no update is lost. Pure values: the HTTP layer
reads them from headers, the site from a form's hidden version."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from potluck.domain.errors import PreconditionFailed

_ETAG = re.compile(r'\s*(W/)?"([^"]*)"\s*(?:,|$)')
# A gzip-encoded body gets its resource's tag with this suffix; comparisons fold it back.
GZIP_SUFFIX = "-gzip"


def entity_tag(source: str | bytes) -> str:
    """Every ETag's one form: a strong tag, the 96-bit digest of what the representation is
    made from (a version and its variant, or the bytes themselves)."""
    data = source.encode() if isinstance(source, str) else source
    return f'"{hashlib.blake2b(data, digest_size=12).hexdigest()}"'


def opaque_tag(tag: str) -> str:
    tag = tag.strip().removeprefix("W/").strip('"')
    return tag.removesuffix(GZIP_SUFFIX)


def listed_tags(header: str) -> list[tuple[bool, str]] | None:
    """The (weak, opaque-tag) pairs of an If-Match/If-None-Match list; None for `*`."""
    if header.strip() == "*":
        return None
    return [(bool(weak), opaque_tag(tag)) for weak, tag in _ETAG.findall(header)]


def etag_listed(header: str | None, etag: str) -> str | None:
    """When an If-None-Match `header` lists `etag` (weak comparison), the form the client
    holds: with the gzip suffix if that is what it sent. None when it is not listed."""
    if header is None:
        return None
    tags = listed_tags(header)
    if tags is not None and not any(tag == opaque_tag(etag) for _, tag in tags):
        return None
    gzipped = etag[:-1] + GZIP_SUFFIX + '"'
    return gzipped if gzipped in header else etag


@dataclass(frozen=True, slots=True)
class Preconditions:
    if_match: str | None = None
    if_none_match: str | None = None
    if_unmodified_since: datetime | None = None

    @property
    def expects_version(self) -> bool:
        return self.if_match is not None

    def check(self, current_etag: str, last_modified: datetime | None = None) -> None:
        """If-Match must match the current version (strong comparison), If-None-Match must
        not; If-Unmodified-Since counts only without If-Match. Else PreconditionFailed."""
        if etag_listed(self.if_none_match, current_etag) is not None:
            raise PreconditionFailed(
                "If-None-Match matches the current representation, so this write is refused.",
                current_etag=current_etag,
            )
        if self.if_match is None:
            since = self.if_unmodified_since
            if since and last_modified and int(last_modified.timestamp()) > int(since.timestamp()):
                raise PreconditionFailed(
                    "The resource was modified after If-Unmodified-Since; GET it again and retry.",
                    current_etag=current_etag,
                )
            return
        tags = listed_tags(self.if_match)
        if tags is None or any(not weak and tag == opaque_tag(current_etag) for weak, tag in tags):
            return
        raise PreconditionFailed(
            "The resource has changed since you read it (If-Match does not match its ETag); "
            "GET it again, reapply your change and retry.",
            current_etag=current_etag,
        )


NO_PRECONDITIONS = Preconditions()
