"""A recipe's page: its canonical slug URL, scaling by servings, JSON-LD and Open Graph for
those who read the page without a browser, and a 304 decided from the recipe's version
before anything is rendered. Browsers asking for the API's root alias land here."""

from __future__ import annotations

import hashlib
from importlib.metadata import version
from pathlib import Path
from typing import Any

import orjson
from flask import Flask, abort, current_app, render_template, request, session, url_for
from markupsafe import Markup
from sqlalchemy import select
from werkzeug.wrappers import Response

from potluck.domain.database import db
from potluck.domain.errors import NotFound
from potluck.domain.models import Recipe, User, visible
from potluck.domain.recipes import RecipeVersion, readable_recipe, readable_version
from potluck.http.errors import wants_html
from potluck.http.headers import send_browsers_elsewhere
from potluck.http.reads import answer
from potluck.schemas.images import image_urls
from potluck.services.caching import versioned_bytes
from potluck.services.mail import public_url
from potluck.services.recipe_jsonld import jsonld_script, recipe_jsonld
from potluck.services.scaling import scale_ingredients
from potluck.web.base import page, page_read, site
from potluck.web.links import moved, recipe_url, slugify
from potluck.web.session import current_cook

MAX_SERVINGS = 100
# The API's course-compatible alias at the root, GET /recipes/<id>: JSON for clients, this
# page for browsers.
API_ALIAS = "root_recipes.RecipeItem"


def _servings() -> tuple[int | None, str | None]:
    """The servings asked for (None: as written), or an error message for the form."""
    given = request.args.get("servings", "").strip()
    if not given:
        return None, None
    if not given.isascii() or not given.isdigit() or not 1 <= int(given) <= MAX_SERVINGS:
        return None, f"Enter a whole number of servings from 1 to {MAX_SERVINGS}."
    return int(given), None


def _templates_version(app: Flask) -> str:
    """What every page's bytes depend on besides the data: the code's version, the
    templates, which pages exist (the layout links to them) and the public address."""
    known: str | None = app.extensions.get("potluck.pages_version")
    if known is None:
        digest = hashlib.blake2b(digest_size=8)
        digest.update(f"{version('potluck')}|{app.config['PUBLIC_BASE_URL']}".encode())
        digest.update("|".join(sorted(app.view_functions)).encode())
        folder = Path(app.root_path) / "templates" / "web"
        for template in sorted(folder.rglob("*.html")):
            digest.update(template.read_bytes())
        known = app.extensions["potluck.pages_version"] = digest.hexdigest()
    return known


@site.get("/recipes/<int:recipe_id>-<slug>")
def recipe(recipe_id: int, slug: str) -> Response:
    viewer = current_cook()
    servings, servings_error = _servings()
    state = readable_version(recipe_id, viewer)  # one query; a 404 for others' drafts
    is_author = viewer is not None and viewer.id == state.author_id

    def context() -> dict[str, Any]:
        parts = _recipe_parts(state, servings, servings_error, is_author)
        if slug != parts["slug"]:
            abort(moved(url_for("web.recipe", recipe_id=recipe_id, slug=parts["slug"])))
        # Rendered by our own autoescaping templates (below), kept as the HTML they made.
        head, main = Markup(parts["head"]), Markup(parts["main"])  # noqa: S704
        return {"title": parts["name"], "head": head, "main": main}

    if servings_error is not None:
        return page("web/recipe.html", status=400, **context())
    # What the anonymous page is made of, known before the recipe is loaded or the page
    # rendered: the recipe's (and its author's) version, this URL (its slug and servings)
    # and the templates. So a cached page is stored only for a canonical URL, and a copy
    # at this version gets its 304 at once. Signed-in visitors get theirs again (hot_reads).
    made_of = f"{state.key}|{request.full_path}|{_templates_version(current_app)}"
    shared = "_flashes" not in session
    return answer(page_read("web/recipe.html", context, version=made_of, shared=shared))


def _recipe_parts(
    state: RecipeVersion, servings: int | None, servings_error: str | None, is_author: bool
) -> dict[str, str]:
    """The recipe's head and body as HTML, rendered once per version of the recipe (and its
    author), servings asked and kind of viewer, and kept in the server cache: a signed-in
    visitor's page then costs the identity, the version and the layout, no ORM loading."""
    variant = f"{servings}|{servings_error is not None}|{is_author}"
    variant += f"|{_templates_version(current_app)}"

    def key(version: str) -> str:
        return f"recipe-page:{version}:{variant}"

    def build() -> tuple[bytes, str]:
        found = readable_recipe(state.id, current_cook())
        context = {
            "recipe": found,
            "servings": servings or found.num_of_servings,
            "ingredients": scale_ingredients(
                found.ingredients, found.num_of_servings, servings or found.num_of_servings
            ),
            "servings_error": servings_error,
            "is_author": is_author,
            **_shared_meta(found),
        }
        parts = {
            "slug": slugify(found.name),
            "name": found.name,
            "head": render_template("web/_recipe_head.html", **context),
            "main": render_template("web/_recipe_main.html", **context),
        }
        return orjson.dumps(parts), key(RecipeVersion.of(found).key)

    body, _ = versioned_bytes(key(state.key), build)
    parts: dict[str, str] = orjson.loads(body)
    return parts


def _shared_meta(found: Recipe) -> dict[str, Any]:
    """Absolute URLs (from PUBLIC_BASE_URL, never the Host header: the page is replayed to
    everyone) for the JSON-LD block and the Open Graph tags."""
    page_url = public_url(recipe_url(found))
    covers = image_urls(found.cover_hash) if found.cover_hash else None
    absolute_covers = {size: public_url(path) for size, path in covers.items()} if covers else None
    document = recipe_jsonld(
        found,
        recipe_url=page_url,
        image_urls=absolute_covers,
        author_url=public_url(url_for("web.author", username=found.author.username)),
    )
    return {
        "page_url": page_url,
        "cover_url": absolute_covers["large"] if absolute_covers else None,
        "jsonld": jsonld_script(document),
    }


@site.get("/recipes/<int:recipe_id>-")
def recipe_without_slug(recipe_id: int) -> Response:
    return _to_canonical(recipe_id)


def _to_canonical(recipe_id: int) -> Response:
    """A 301 to the recipe's page, for whoever may see it (no hint that a draft exists)."""
    found = db.session.execute(
        select(Recipe.name, Recipe.is_publish, Recipe.author_id).where(Recipe.id == recipe_id)
    ).first()
    viewer: User | None = current_cook()
    if found is None or not visible(found.is_publish, found.author_id, viewer):
        raise NotFound(f"There is no recipe {recipe_id}.")
    response = moved(url_for("web.recipe", recipe_id=recipe_id, slug=slugify(found.name)))
    response.vary.update(("Accept", "Cookie"))
    return response


def _browser_to_page() -> Response | None:
    """GET /recipes/<id> from a browser (Accept prefers HTML to JSON) is a 301 to the page;
    JSON and JSON-LD clients keep their answer, which says Vary: Accept."""
    if request.endpoint != API_ALIAS or request.method not in {"GET", "HEAD"}:
        return None
    if not wants_html():
        return None
    return _to_canonical(int((request.view_args or {})["recipe_id"]))


def init_app(app: Flask) -> None:
    send_browsers_elsewhere(app, API_ALIAS)
    app.before_request(_browser_to_page)
