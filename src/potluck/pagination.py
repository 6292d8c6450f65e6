"""Page-number pagination: the `{data, page, per_page, pages, total, links}` envelope and
the RFC 8288 `Link` header, declared once for every list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import request
from sqlalchemy import Select, func, select

from .extensions import db


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Any]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    def links(self) -> dict[str, str | None]:
        def at(number: int) -> str:
            args = [(k, v) for k, v in request.args.items(multi=True) if k != "page"]
            return f"{request.path}?{urlencode([*args, ('page', str(number))])}"

        return {
            "first": at(1),
            "last": at(self.pages),
            "prev": at(min(self.page - 1, self.pages)) if self.page > 1 else None,
            "next": at(self.page + 1) if self.page < self.pages else None,
        }

    def envelope(self) -> dict[str, Any]:
        return {
            "data": self.items,
            "page": self.page,
            "per_page": self.per_page,
            "pages": self.pages,
            "total": self.total,
            "links": self.links(),
        }

    def link_header(self) -> str:
        return ", ".join(f'<{url}>; rel="{rel}"' for rel, url in self.links().items() if url)


def count_statement(statement: Select[Any]) -> Select[Any]:
    """How many rows `statement` gives: its primary keys alone are counted, so neither the
    eager loads nor the order cost anything."""
    keys = statement.order_by(None).with_only_columns(*statement.selected_columns[:1])
    return select(func.count()).select_from(keys.subquery())


def paginate(statement: Select[Any], page: int, per_page: int) -> Page:
    """Run `statement` for one page, with the total count in a second query."""
    total = db.session.scalar(count_statement(statement)) or 0
    rows = db.session.scalars(statement.limit(per_page).offset((page - 1) * per_page))
    return Page(list(rows.unique()), page, per_page, total)
