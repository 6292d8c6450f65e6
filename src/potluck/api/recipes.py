"""Recipes: the public list, a user's recipes, and each recipe's life cycle."""

from __future__ import annotations

from typing import Any

import orjson
from flask import url_for
from flask.views import MethodView

from potluck.api.base import Blueprint
from potluck.api.users import find_user
from potluck.domain.database import db
from potluck.domain.models import Recipe, User
from potluck.domain.recipes import (
    RECIPE_DEFAULTS,
    RecipeVersion,
    create_recipe,
    readable_recipe,
    readable_version,
    set_published,
    writable_recipe,
    write_fields,
)
from potluck.domain.transactions import after_commit, commit
from potluck.http.auth import current_user, current_user_or_none
from potluck.http.conditional import request_preconditions, validator_headers
from potluck.http.errors import abort
from potluck.http.headers import negotiated_type, produces
from potluck.http.paging import page_envelope, paged
from potluck.http.reads import Built, Read
from potluck.schemas.encoding import dumps_json
from potluck.schemas.images import image_urls
from potluck.schemas.recipes import (
    RecipeInputSchema,
    RecipeListQuerySchema,
    RecipeOutputSchema,
    RecipePageSchema,
    RecipePatchSchema,
    UserRecipeListQuerySchema,
)
from potluck.services.exports import CSV_MIMETYPE, recipes_csv
from potluck.services.keyset import recipe_page
from potluck.services.mail import public_url
from potluck.services.media import release_images
from potluck.services.recipe_documents import recipe_document, recipe_documents
from potluck.services.recipe_jsonld import JSONLD_MIMETYPE, recipe_jsonld

blp = Blueprint("recipes", __name__, description="Recipes")

# Built once: a schema's construction copies its fields and costs more than a dump with it.
_PAGE = RecipePageSchema()


def _string(**schema: Any) -> dict[str, Any]:
    return {"type": "string", **schema}


# What the OpenAPI document says of the application/ld+json answer of GET one recipe.
_RECIPE_JSONLD = {
    "type": "object",
    "description": "A schema.org Recipe (https://schema.org/Recipe); URLs are absolute",
    "required": ["@context", "@type", "@id", "url", "name", "author", "dateModified"],
    "properties": {
        "@context": _string(enum=["https://schema.org"]),
        "@type": _string(enum=["Recipe"]),
        **{name: _string(format="uri") for name in ("@id", "url", "isBasedOn")},
        **{name: _string() for name in ("name", "description", "recipeYield", "keywords")},
        **{name: _string(format="date-time") for name in ("datePublished", "dateModified")},
        **{
            name: _string(description="ISO 8601 duration, e.g. PT1H30M")
            for name in ("prepTime", "cookTime", "totalTime")
        },
        "author": {
            "type": "object",
            "properties": {
                "@type": _string(enum=["Person"]),
                "name": _string(),
                "url": _string(format="uri"),
            },
        },
        "image": {
            "type": "array",
            "items": _string(format="uri"),
            "description": "The cover, large size first",
        },
        "recipeIngredient": {"type": "array", "items": _string()},
        "recipeInstructions": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "@type": _string(enum=["HowToStep"]),
                    "position": {"type": "integer", "minimum": 1},
                    "text": _string(),
                },
            },
        },
    },
}


def written_headers(recipe: Recipe) -> dict[str, str]:
    """What the answer to a write of `recipe` carries: its new validators, and no-store."""
    state = RecipeVersion.of(recipe)
    return {**validator_headers(state.etag, state.last_modified), "Cache-Control": "no-store"}


def _written(recipe: Recipe) -> tuple[Recipe, int, dict[str, str]]:
    return recipe, 200, written_headers(recipe)


def _recipe_read(state: RecipeVersion, viewer: User | None, media: str) -> Read:
    """GET one recipe in `media`: versioned, so a current copy's 304 loads nothing."""
    # JSON-LD is another representation of the same version: another ETag.
    variant = "" if media != JSONLD_MIMETYPE else "|ld"

    def build() -> Built:
        recipe = readable_recipe(state.id, viewer)
        return Built(
            _recipe_document(recipe, media), version=RecipeVersion.of(recipe).key + variant
        )

    return Read(
        build,
        media,
        audience="public" if state.is_publish else "private",
        version=state.key + variant,
        last_modified=state.last_modified,
    )


def _recipe_document(recipe: Recipe, media: str) -> bytes:
    if media != JSONLD_MIMETYPE:
        return recipe_document(recipe)  # the same bytes as in every list page
    # Absolute URLs from PUBLIC_BASE_URL, never the Host header: the bytes are cached by version.
    cover = recipe.cover_hash
    document = recipe_jsonld(
        recipe,
        recipe_url=public_url(url_for("recipes.RecipeItem", recipe_id=recipe.id)),
        image_urls={size: public_url(path) for size, path in image_urls(cover).items()}
        if cover
        else None,
        author_url=public_url(url_for("users.UserItem", username=recipe.author.username)),
    )
    return dumps_json(document)


def _page_read(params: dict[str, Any], *, public: bool = True, **list_options: Any) -> Read:
    """One page of a recipe list, as JSON or CSV."""
    media = negotiated_type()

    def build() -> Built:
        if media == CSV_MIMETYPE:
            page = recipe_page(params, list_options)
            return paged(page, recipes_csv(_PAGE.dump(page_envelope(page))["data"]))
        # Each recipe's document as GET one recipe serialized it, spliced in unparsed.
        page = recipe_page(params, list_options, versions=True)
        envelope = _PAGE.dump({**page_envelope(page), "data": []})
        envelope["data"] = [orjson.Fragment(doc) for doc in recipe_documents(page.items)]
        return paged(page, dumps_json(envelope))

    return Read(build, media, audience="public" if public else "private")


@blp.route("/recipes")
class Recipes(MethodView):
    @blp.arguments(RecipeListQuerySchema, location="query")
    @blp.read(RecipePageSchema, paged=True)
    @produces(CSV_MIMETYPE)
    def get(self, params: dict[str, Any]) -> Read:
        """Published recipes: search, filter, sort and page"""
        return _page_read(params)

    @blp.auth_required()
    @blp.arguments(RecipeInputSchema)
    @blp.response(201, RecipeOutputSchema, headers={"Location": {"schema": {"type": "string"}}})
    def post(self, data: dict[str, Any]) -> tuple[Recipe, int, dict[str, str]]:
        """Write a recipe (a draft until published)"""
        recipe = create_recipe(current_user, data)
        commit()
        location = url_for(".RecipeItem", recipe_id=recipe.id)
        return recipe, 201, {**written_headers(recipe), "Location": location}


@blp.route("/recipes/<int:recipe_id>")
class RecipeItem(MethodView):
    @blp.auth_required(optional=True)
    @blp.read(RecipeOutputSchema)
    @blp.alt_response(200, schema=_RECIPE_JSONLD, content_type=JSONLD_MIMETYPE, success=True)
    @blp.alt_response(404, response="NOT_FOUND", success=False)
    @produces(JSONLD_MIMETYPE)
    def get(self, recipe_id: int) -> Read:
        """A recipe; drafts only for their author; as schema.org JSON-LD on request"""
        viewer = current_user_or_none()
        return _recipe_read(readable_version(recipe_id, viewer), viewer, negotiated_type())

    @blp.auth_required()
    @blp.arguments(RecipeInputSchema)
    @blp.response(200, RecipeOutputSchema)
    @blp.alt_response(403, response="FORBIDDEN", success=False)
    @blp.alt_response(404, response="NOT_FOUND", success=False)
    def put(self, data: dict[str, Any], recipe_id: int) -> Any:
        """Replace a recipe; fields left out go back to their defaults"""
        recipe = writable_recipe(recipe_id, current_user, request_preconditions())
        write_fields(recipe, {**RECIPE_DEFAULTS, **data})
        commit()
        return _written(recipe)

    @blp.auth_required()
    @blp.arguments(RecipePatchSchema(partial=True), required=False)
    @blp.response(200, RecipeOutputSchema)
    @blp.alt_response(403, response="FORBIDDEN", success=False)
    @blp.alt_response(404, response="NOT_FOUND", success=False)
    def patch(self, data: dict[str, Any], recipe_id: int) -> Any:
        """Change some fields of a recipe"""
        recipe = writable_recipe(recipe_id, current_user, request_preconditions())
        write_fields(recipe, data)
        commit()
        return _written(recipe)

    @blp.auth_required()
    @blp.response(204)
    @blp.alt_response(403, response="FORBIDDEN", success=False)
    @blp.alt_response(404, response="NOT_FOUND", success=False)
    def delete(self, recipe_id: int) -> None:
        """Delete a recipe (and its cover, unless another recipe shows the same image)"""
        recipe = writable_recipe(recipe_id, current_user, request_preconditions())
        cover = recipe.cover_hash
        db.session.delete(recipe)
        commit()
        after_commit(lambda: release_images([cover]))


@blp.route("/recipes/<int:recipe_id>/publish")
class RecipePublication(MethodView):
    @blp.auth_required()
    @blp.response(204)
    @blp.alt_response(403, response="FORBIDDEN", success=False)
    @blp.alt_response(404, response="NOT_FOUND", success=False)
    def put(self, recipe_id: int) -> None:
        """Publish a recipe"""
        set_published(writable_recipe(recipe_id, current_user, request_preconditions()), True)
        commit()

    @blp.auth_required()
    @blp.response(204)
    @blp.alt_response(403, response="FORBIDDEN", success=False)
    @blp.alt_response(404, response="NOT_FOUND", success=False)
    def delete(self, recipe_id: int) -> None:
        """Unpublish a recipe (it becomes a draft again)"""
        set_published(writable_recipe(recipe_id, current_user, request_preconditions()), False)
        commit()


@blp.route("/users/<username:username>/recipes")
class UserRecipes(MethodView):
    @blp.auth_required(optional=True)
    @blp.arguments(UserRecipeListQuerySchema, location="query")
    @blp.read(RecipePageSchema, paged=True)
    @blp.alt_response(403, response="FORBIDDEN", success=False)
    @blp.alt_response(404, response="NOT_FOUND", success=False)
    @produces(CSV_MIMETYPE)
    def get(self, params: dict[str, Any], username: str) -> Read:
        """A user's recipes; their author may ask for drafts with visibility=all or private"""
        author = find_user(username)
        visibility = params.pop("visibility")
        viewer: User | None = current_user_or_none()
        if visibility != "public" and (viewer is None or viewer.id != author.id):
            abort(403, f"Only {author.username} can list their drafts; use visibility=public.")
        return _page_read(
            params,
            public=visibility == "public",
            author=author,
            include_drafts=visibility == "all",
            only_drafts=visibility == "private",
        )
