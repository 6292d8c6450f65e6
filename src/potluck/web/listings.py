"""Pages that list recipes: search, a tag's recipes and a cook's profile. They share the
list services of the API (filters, keyset cursors, cached counts) and one template; an
anonymous visitor's page is built once per cache generation and replayed before Flask."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import marshmallow as ma
from flask import request, session, url_for
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from potluck.domain.database import db
from potluck.domain.errors import Invalid, NotFound
from potluck.domain.models import Tag, User
from potluck.domain.tags import tag_list
from potluck.http.errors import flatten_errors
from potluck.http.reads import answer
from potluck.schemas.recipes import RecipeListQuerySchema
from potluck.services.keyset import recipe_page
from potluck.services.pagination import Page
from potluck.web.base import page, page_read, site
from potluck.web.links import moved

POPULAR_TAGS = 20
_QUERY = RecipeListQuerySchema()
_KNOWN = frozenset(_QUERY.fields)
_POSITION = frozenset({"page", "cursor"})
# What the search form calls each parameter, for its error messages.
FIELD_LABELS = {
    "q": "Search words",
    "tag": "Tags",
    "max_cook_time": "Longest cook time",
    "sort": "Sort by",
    "order": "Order",
    "page": "Page",
    "cursor": "Page",
    "per_page": "Recipes per page",
    "author": "Cook",
}


def popular_tags(limit: int = POPULAR_TAGS) -> list[Tag]:
    return list(db.session.scalars(tag_list({}).limit(limit)))


def shared_page(template: str, context: Callable[[], dict[str, Any]]) -> Response:
    """A page that is the same for every anonymous visitor: rendered once per cache
    generation (in the server cache, shared by workers), replayed before Flask, 304 when
    current. Signed-in visitors, and anyone with a message waiting, get their own render."""
    return answer(page_read(template, context, shared="_flashes" not in session))


def list_params(defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    """The list's parameters from the query string, checked by the API's own schema. Blank
    fields of the search form mean "not set"; parameters no list knows are ignored (links
    from elsewhere carry their own). A search sorts by relevance unless told otherwise."""
    given: dict[str, Any] = {}
    for name in _KNOWN & set(request.args):
        values = [value for value in request.args.getlist(name) if value.strip()]
        if values:
            given[name] = values if name == "tag" else values[0]
    given = {**(defaults or {}), **given}
    if given.get("q") and "sort" not in given:
        given["sort"] = "relevance"
    try:
        params: dict[str, Any] = _QUERY.load(given)
    except ma.ValidationError as invalid:
        messages = invalid.messages if isinstance(invalid.messages, dict) else {}
        raise Invalid(
            "Some search settings are not valid.", errors=flatten_errors(messages)
        ) from None
    return params


def link_at(**position: str) -> str:
    """This list again, at another position (first page, or a cursor)."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k not in _POSITION and v]
    query = urlencode([*args, *position.items()])
    return f"{request.path}?{query}" if query else request.path


def without(name: str, value: str | None = None) -> str:
    """This list without one filter (all its values, or one tag), from the first page."""
    args = [
        (k, v)
        for k, v in request.args.items(multi=True)
        if k not in _POSITION and v and not (k == name and (value is None or v == value))
    ]
    query = urlencode(args)
    return f"{request.path}?{query}" if query else request.path


def _pager(found: Page) -> dict[str, str | None]:
    numbered = found.page is not None and found.page > 1
    return {
        "first": link_at() if found.page != 1 else None,
        "prev": link_at(page=str(found.page - 1)) if numbered and found.page else None,
        "next": link_at(cursor=found.next_cursor) if found.next_cursor else None,
    }


def recipe_list_page(
    params: dict[str, Any] | None,
    errors: dict[str, list[str]] | None = None,
    *,
    list_options: dict[str, Any] | None = None,
    **context: Any,
) -> Response:
    """One page of recipes with the search form and its pager (`context` names the heading
    and title); a 400 page when the parameters, or a cursor, are not valid, with the
    messages next to the form."""
    shown = {"form": _form_values(), "field_labels": FIELD_LABELS, "without": without, **context}
    if errors is None and params is not None:
        checked = params

        def listing() -> dict[str, Any]:
            found = recipe_page(checked, list_options or {})
            tags = popular_tags() if not found.items else []
            return {**shown, "found": found, "page_links": _pager(found), "popular": tags}

        try:
            return shared_page("web/recipes.html", listing)
        except Invalid as invalid:
            errors = invalid.errors or {"cursor": [invalid.detail]}
    return page(
        "web/recipes.html",
        status=400,
        **{**shown, "found": None, "page_links": {}, "popular": popular_tags(), "errors": errors},
    )


def checked_params(defaults: dict[str, Any] | None = None) -> tuple[Any, Any]:
    """(params, None), or (None, errors by field) when the query string is not valid."""
    try:
        return list_params(defaults), None
    except Invalid as invalid:
        return None, invalid.errors or {}


def _form_values() -> dict[str, Any]:
    """What the search form shows: the query string as the visitor sent it."""
    return {
        "q": request.args.get("q", ""),
        "tags": [tag for tag in request.args.getlist("tag") if tag],
        "max_cook_time": request.args.get("max_cook_time", ""),
        "sort": request.args.get("sort", ""),
        "order": request.args.get("order", ""),
    }


@site.get("/search")
def search() -> Response:
    params, errors = checked_params()
    return recipe_list_page(params, errors, heading="Search recipes", title="Search recipes")


@site.get("/tags/<name>")
def tag(name: str) -> Response:
    if name != name.lower():
        return moved(url_for("web.tag", name=name.lower()))
    found = db.session.scalar(select(Tag).where(Tag.name == name))
    if found is None:
        raise NotFound(f"No recipe has the tag {name!r}.")
    params, errors = checked_params()
    if params is not None:
        params["tag"] = sorted({name, *(params.get("tag") or ())})
    heading = f"Recipes tagged \u201c{name}\u201d"
    return recipe_list_page(params, errors, heading=heading, title=f"Tag: {name}", tag=found)


@site.get("/cooks/<username:username>")
def author(username: str) -> Response:
    cook = db.session.scalar(select(User).where(func.lower(User.username) == username.lower()))
    if cook is None or not cook.is_active:
        raise NotFound(f"There is no cook called {username!r}.")
    if cook.username != username:
        return moved(url_for("web.author", username=cook.username))
    params, errors = checked_params()
    name = cook.display_name or cook.username
    return recipe_list_page(
        params,
        errors,
        list_options={"author": cook},
        heading=f"Recipes by {name}",
        title=name,
        profile=cook,
    )
