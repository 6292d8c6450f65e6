"""One declared read path. A view says what its answer is, a `Read`; `answer` does the rest
the same way for every resource of the API and every page of the site: the ETag, the 304,
the server cache of the bytes, the offer to the replay middleware (hot_reads) and the
Cache-Control that says who may keep the answer.

The ETag has one form (domain.preconditions.entity_tag), a digest of what the
representation is made from: its version, when the view knows it before building (a recipe,
a profile: a current copy then gets its 304 without the resource being loaded or
serialized), else its bytes (a list page). A gzip-encoded body adds a suffix (http.headers)
that every comparison folds back.

The server cache keeps a versioned answer under its version (a newer version has another
key, so an entry never goes stale), and any other public answer under the cache generation
and the URL (cache.py: every commit that changes what lists show moves the generation)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, NamedTuple

from flask import Response, request

from potluck.domain.preconditions import entity_tag
from potluck.http.cache import cache_status
from potluck.http.conditional import not_modified, validator_headers
from potluck.http.hot_reads import offer_for_replay
from potluck.services.caching import RECIPES, cache, current_generation

# Who may keep an answer: published content any cache (revalidated on every use); the
# viewer's own (a draft, a signed-in visitor's page) only their client; account data nobody.
Audience = Literal["public", "private", "personal"]
CACHE_CONTROL: dict[Audience, str] = {
    "public": "public, no-cache",
    "private": "private, no-cache",
    "personal": "no-store",
}


class Built(NamedTuple):
    """What a read's `build` made: the body, headers of that body (a list's `Link`; a
    versioned read has none), and for a versioned read the version it found (its body is
    kept only when that is the one asked for)."""

    body: bytes
    headers: Mapping[str, str] = {}
    version: str | None = None


@dataclass(frozen=True, slots=True)
class Read:
    """A GET's answer as its view declares it (see the module's text).

    `version`: what the representation depends on, known before `build` runs (a recipe's
    version and its variant); None when only the bytes can tell. `shared`: whether the
    bytes are the same for everyone allowed to see them, so the server cache may keep them
    (by default, public reads and versioned private ones, never account data). `replay`:
    whether the replay middleware may answer the next asker of its kind (by default,
    public reads; a signed-in visitor's page is replayed to that same session only, see
    hot_reads)."""

    build: Callable[[], Built]
    mimetype: str = "application/json"
    audience: Audience = "public"
    version: str | None = None
    last_modified: datetime | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    shared: bool | None = None
    replay: bool | None = None


@dataclass(frozen=True, slots=True)
class _Kept:
    body: bytes
    etag: str
    headers: Mapping[str, str]


def answer(read: Read) -> Response:
    """The response to a GET or HEAD declared by `read`: 304 when the asker's copy is
    current, else the representation, from the server cache when it is there."""
    headers = {**read.headers, "Cache-Control": CACHE_CONTROL[read.audience]}
    etag = entity_tag(read.version) if read.version is not None else None
    if etag is not None:
        fresh = not_modified(etag, read.last_modified, headers)
        if fresh is not None:
            return fresh
    kept, status = _representation(read, etag)
    if read.replay if read.replay is not None else read.audience == "public":
        offer_for_replay()
    if status:
        headers.update(cache_status(status))
    headers.update(kept.headers)
    # A versioned read's tag was compared above, before the build; one from the bytes now.
    fresh = None if etag is not None else not_modified(kept.etag, read.last_modified, headers)
    if fresh is not None:
        return fresh
    response = Response(kept.body, mimetype=read.mimetype)
    response.headers.update({**headers, **validator_headers(kept.etag, read.last_modified)})
    return response


def _representation(read: Read, etag: str | None) -> tuple[_Kept, str | None]:
    """The bytes and ETag of `read`, and the Cache-Status detail when the server cache was
    asked. A versioned body is kept alone under its version (what its ETag digests), where a
    recipe list finds the same document (services.recipe_documents); any other with its
    headers and ETag."""
    shared = read.audience == "public" or (etag is not None and read.audience == "private")
    if not (read.shared if read.shared is not None else shared):
        built = read.build()
        return _Kept(built.body, etag or entity_tag(built.body), built.headers), None
    if etag is not None and read.version is not None:
        body: bytes | None = cache.get(read.version)
        if body is not None:
            return _Kept(body, etag, {}), "hit"
        built = read.build()
        if built.version is not None and built.version != read.version:
            return _Kept(built.body, etag, {}), "fwd=miss; detail=changed"  # written meanwhile
        return _Kept(built.body, etag, {}), _stored(cache.set(read.version, built.body))
    key = f"{RECIPES}:{current_generation()}:{read.mimetype}:{request.full_path}"
    kept: _Kept | None = cache.get(key)
    if kept is not None:
        return kept, "hit"
    built = read.build()
    kept = _Kept(built.body, entity_tag(built.body), dict(built.headers))
    return kept, _stored(cache.set(key, kept))


def _stored(kept: bool | None) -> str:
    return "fwd=miss; stored" if kept else "fwd=miss"
