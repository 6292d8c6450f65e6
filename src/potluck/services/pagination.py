"""Paging of lists, by page number (OFFSET) or by cursor (keyset): the `{data, page, per_page,
pages, total, next_cursor, links}` envelope and the RFC 8288 `Link` header, declared once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, Select, func, select

from potluck.domain.database import db, narrow_rows

# The cursor that starts the page after a row of (item, sort key).
CursorAfter = Callable[[Row[Any, Any]], str]


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Any]
    per_page: int
    total: int
    page: int | None  # None in cursor mode: a keyset page has no number
    next_cursor: str | None

    @property
    def pages(self) -> int | None:
        return None if self.page is None else max(1, -(-self.total // self.per_page))


def count_statement(statement: Select[Any]) -> Select[Any]:
    """How many rows `statement` gives: its primary keys alone are counted, so neither the
    eager loads nor the order cost anything."""
    keys = statement.order_by(None).with_only_columns(*statement.selected_columns[:1])
    return select(func.count()).select_from(keys.subquery())


def count_rows(statement: Select[Any]) -> int:
    return db.session.scalar(count_statement(statement)) or 0


def _rows(statement: Select[Any], narrow: bool) -> list[Row[Any, Any]]:
    return list(narrow_rows(statement) if narrow else db.session.execute(statement))


def paginate(
    total: int,
    ordered: Select[Any],
    page: int,
    per_page: int,
    cursor_after: CursorAfter | None = None,
    *,
    rows: bool = False,
) -> Page:
    """Page `page` of `ordered` rows (item, sort key) of a list of `total` rows; the next
    page's cursor when the list offers keyset paging (`cursor_after`). The items are the
    rows' first column, or with `rows` the rows themselves."""
    found = _rows(ordered.limit(per_page).offset((page - 1) * per_page), rows)
    more = page * per_page < total
    next_cursor = cursor_after(found[-1]) if cursor_after and found and more else None
    items = list(found) if rows else [row[0] for row in found]
    return Page(items, per_page, total, page, next_cursor)


def paginate_after(
    total: int,
    ordered: Select[Any],
    per_page: int,
    cursor_after: CursorAfter,
    *,
    rows: bool = False,
) -> Page:
    """The next `per_page` rows of `ordered`, already narrowed to those after a cursor."""
    found = _rows(ordered.limit(per_page + 1), rows)
    # The one row past the page says whether another page follows, without counting.
    next_cursor = cursor_after(found[per_page - 1]) if len(found) > per_page else None
    items = list(found[:per_page]) if rows else [row[0] for row in found[:per_page]]
    return Page(items, per_page, total, None, next_cursor)
