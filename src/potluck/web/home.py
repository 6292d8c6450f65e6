"""The home page: the newest recipes with their covers, popular tags and a search box."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from potluck.domain.database import db
from potluck.services.search import recipe_list
from potluck.web.base import site
from potluck.web.listings import popular_tags, shared_page

NEWEST = 12


def _home() -> dict[str, Any]:
    newest = recipe_list({"sort": "created_at"}).ordered().limit(NEWEST)
    recipes = [row[0] for row in db.session.execute(newest)]
    return {"recipes": recipes, "tags": popular_tags()}


@site.get("/")
def home() -> Response:
    return shared_page("web/home.html", _home)
