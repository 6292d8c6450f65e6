"""The home page: the newest recipes, popular tags and a search box."""

from __future__ import annotations

from sqlalchemy import select
from werkzeug.wrappers import Response

from potluck.domain.database import db
from potluck.domain.models import Tag
from potluck.services.search import recipe_list
from potluck.web.base import page, site

NEWEST = 12
POPULAR_TAGS = 20


@site.get("/")
def home() -> Response:
    newest = recipe_list({"sort": "created_at"}).ordered().limit(NEWEST)
    recipes = [row[0] for row in db.session.execute(newest)]
    tags = db.session.scalars(
        select(Tag)
        .where(Tag.recipe_count > 0)
        .order_by(Tag.recipe_count.desc(), Tag.name)
        .limit(POPULAR_TAGS)
    ).all()
    return page("web/home.html", recipes=recipes, tags=tags)
