"""A page of a list as the request asked for it: the `{data, page, per_page, pages, total,
next_cursor, links}` envelope and the RFC 8288 `Link` header, with links that keep every
other query parameter of the request."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote_plus, urlencode

from flask import request

from potluck.http.reads import Built
from potluck.services.pagination import Page

_POSITION = {"page", "cursor"}


def page_links(page: Page) -> dict[str, str | None]:
    # Every link keeps the request's other parameters, encoded once for all four.
    kept = urlencode([(k, v) for k, v in request.args.items(multi=True) if k not in _POSITION])
    prefix = f"{request.path}?{kept}&" if kept else f"{request.path}?"

    def at(name: str, value: str) -> str:
        return f"{prefix}{name}={quote_plus(value)}"

    if page.page is None or page.pages is None:
        return {
            "first": f"{request.path}?{kept}",
            "last": None,
            "prev": None,
            "next": at("cursor", page.next_cursor) if page.next_cursor else None,
        }
    return {
        "first": at("page", "1"),
        "last": at("page", str(page.pages)),
        "prev": at("page", str(min(page.page - 1, page.pages))) if page.page > 1 else None,
        "next": at("page", str(page.page + 1)) if page.page < page.pages else None,
    }


def page_envelope(page: Page) -> dict[str, Any]:
    return {
        "data": page.items,
        "page": page.page,
        "per_page": page.per_page,
        "pages": page.pages,
        "total": page.total,
        "next_cursor": page.next_cursor,
        "links": page_links(page),
    }


def link_header(page: Page) -> str:
    return ", ".join(f'<{url}>; rel="{rel}"' for rel, url in page_links(page).items() if url)


def paged(page: Page, body: bytes) -> Built:
    """A list page's body as a read builds it: with the page's `Link` header."""
    return Built(body, {"Link": link_header(page)})
