"""My recipes: the signed-in cook's recipes, drafts included, newest change first."""

from __future__ import annotations

from flask import request, url_for
from werkzeug.wrappers import Response

from potluck.domain.errors import Invalid
from potluck.domain.models import User
from potluck.services.pagination import count_rows, paginate
from potluck.services.search import recipe_list
from potluck.web.base import login_required, page, site
from potluck.web.session import current_cook

PER_PAGE = 20


def _page_number() -> int:
    raw = request.args.get("page", "1")
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= 1_000_000:
        raise Invalid("The page number must be a whole number from 1.", errors={"page": [raw]})
    return int(raw)


@site.get("/my/recipes")
@login_required
def my_recipes() -> Response:
    user: User = current_cook()  # type: ignore[assignment]
    number = _page_number()
    listing = recipe_list({"sort": "updated_at"}, author=user, include_drafts=True)
    # Counted afresh: a draft's writes do not move the public lists' cached counts.
    found = paginate(count_rows(listing.statement), listing.ordered(), number, PER_PAGE)
    pages = found.pages or 1
    links = {
        "prev": url_for("web.my_recipes", page=number - 1) if number > 1 else None,
        "next": url_for("web.my_recipes", page=number + 1) if number < pages else None,
    }
    return page(
        "web/my_recipes.html",
        recipes=found.items,
        page_number=number,
        pages=pages,
        total=found.total,
        links=links,
        cache="private",
    )
