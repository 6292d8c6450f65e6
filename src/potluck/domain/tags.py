"""The tag list query: tags with published recipes, by the count the database keeps."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select

from potluck.domain.models import Tag

DEFAULT_ORDER = {"count": "desc", "name": "asc"}


def tag_list(params: dict[str, Any]) -> Select[tuple[Tag]]:
    """The statement for one tag list: used tags, a name prefix, a stable order."""
    # Fresh counts even for tags this session already holds (triggers change them, not the ORM).
    statement = select(Tag).where(Tag.recipe_count > 0).execution_options(populate_existing=True)
    if params.get("q"):
        # Spelled as tags are stored (lowercased, single spaces); autoescape makes % _ / literal.
        prefix = " ".join(params["q"].lower().split())
        statement = statement.where(Tag.name.startswith(prefix, autoescape=True))
    sort = params.get("sort") or "count"
    descending = (params.get("order") or DEFAULT_ORDER[sort]) == "desc"
    if sort == "name":
        return statement.order_by(Tag.name.desc() if descending else Tag.name.asc())
    count = Tag.recipe_count.desc() if descending else Tag.recipe_count.asc()
    return statement.order_by(count, Tag.name.asc())
