"""Recipes: the public list, a user's recipes, and each recipe's life cycle."""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask.views import MethodView
from flask_jwt_extended import current_user

from ..auth import current_user_or_none
from ..extensions import db
from ..http import abort
from ..media import release_images
from ..models import Recipe, User
from ..pagination import paginate
from ..persistence import commit
from ..recipes import RECIPE_DEFAULTS, readable_recipe, set_published, writable_recipe, write_fields
from ..schemas.recipes import (
    RecipeInputSchema,
    RecipeListQuerySchema,
    RecipeOutputSchema,
    RecipePageSchema,
    RecipePatchSchema,
    UserRecipeListQuerySchema,
)
from ..search import recipe_list
from .base import Blueprint
from .users import find_user

blp = Blueprint("recipes", __name__, description="Recipes")

_LINK_HEADER = {"Link": {"schema": {"type": "string"}, "description": "RFC 8288 page links"}}
_PAGE_DOC = {"headers": _LINK_HEADER}


def _page_response(params: dict[str, Any], **list_options: Any) -> tuple[Any, int, dict[str, str]]:
    page = paginate(recipe_list(params, **list_options), params["page"], params["per_page"])
    return page.envelope(), 200, {"Link": page.link_header()}


@blp.route("/recipes")
class Recipes(MethodView):
    @blp.arguments(RecipeListQuerySchema, location="query")
    @blp.response(200, RecipePageSchema, **_PAGE_DOC)
    def get(self, params: dict[str, Any]) -> tuple[Any, int, dict[str, str]]:
        """Published recipes: search, filter, sort and page"""
        return _page_response(params)

    @blp.auth_required()
    @blp.arguments(RecipeInputSchema)
    @blp.response(201, RecipeOutputSchema, headers={"Location": {"schema": {"type": "string"}}})
    def post(self, data: dict[str, Any]) -> tuple[Recipe, int, dict[str, str]]:
        """Write a recipe (a draft until published)"""
        recipe = Recipe(author=current_user)
        db.session.add(recipe)
        write_fields(recipe, data)
        commit()
        return recipe, 201, {"Location": url_for(".RecipeItem", recipe_id=recipe.id)}


@blp.route("/recipes/<int:recipe_id>")
class RecipeItem(MethodView):
    @blp.auth_required(optional=True)
    @blp.response(200, RecipeOutputSchema)
    @blp.alt_response(404, response="NOT_FOUND", success=False)
    def get(self, recipe_id: int) -> Recipe:
        """A recipe; drafts only for their author"""
        return readable_recipe(recipe_id, current_user_or_none())

    @blp.auth_required()
    @blp.arguments(RecipeInputSchema)
    @blp.response(200, RecipeOutputSchema)
    @blp.alt_response(403, response="FORBIDDEN", success=False)
    @blp.alt_response(404, response="NOT_FOUND", success=False)
    def put(self, data: dict[str, Any], recipe_id: int) -> Recipe:
        """Replace a recipe; fields left out go back to their defaults"""
        recipe = writable_recipe(recipe_id, current_user)
        write_fields(recipe, {**RECIPE_DEFAULTS, **data})
        commit()
        return recipe

    @blp.auth_required()
    @blp.arguments(RecipePatchSchema(partial=True))
    @blp.response(200, RecipeOutputSchema)
    @blp.alt_response(403, response="FORBIDDEN", success=False)
    @blp.alt_response(404, response="NOT_FOUND", success=False)
    def patch(self, data: dict[str, Any], recipe_id: int) -> Recipe:
        """Change some fields of a recipe"""
        recipe = writable_recipe(recipe_id, current_user)
        write_fields(recipe, data)
        commit()
        return recipe

    @blp.auth_required()
    @blp.response(204)
    @blp.alt_response(403, response="FORBIDDEN", success=False)
    @blp.alt_response(404, response="NOT_FOUND", success=False)
    def delete(self, recipe_id: int) -> None:
        """Delete a recipe (and its cover, unless another recipe shows the same image)"""
        recipe = writable_recipe(recipe_id, current_user)
        cover = recipe.cover_hash
        db.session.delete(recipe)
        commit()
        release_images([cover])


@blp.route("/recipes/<int:recipe_id>/publish")
class RecipePublication(MethodView):
    @blp.auth_required()
    @blp.response(204)
    @blp.alt_response(403, response="FORBIDDEN", success=False)
    @blp.alt_response(404, response="NOT_FOUND", success=False)
    def put(self, recipe_id: int) -> None:
        """Publish a recipe"""
        set_published(writable_recipe(recipe_id, current_user), True)
        commit()

    @blp.auth_required()
    @blp.response(204)
    @blp.alt_response(403, response="FORBIDDEN", success=False)
    @blp.alt_response(404, response="NOT_FOUND", success=False)
    def delete(self, recipe_id: int) -> None:
        """Unpublish a recipe (it becomes a draft again)"""
        set_published(writable_recipe(recipe_id, current_user), False)
        commit()


@blp.route("/users/<string:username>/recipes")
class UserRecipes(MethodView):
    @blp.auth_required(optional=True)
    @blp.arguments(UserRecipeListQuerySchema, location="query")
    @blp.response(200, RecipePageSchema, **_PAGE_DOC)
    @blp.alt_response(403, response="FORBIDDEN", success=False)
    @blp.alt_response(404, response="NOT_FOUND", success=False)
    def get(self, params: dict[str, Any], username: str) -> tuple[Any, int, dict[str, str]]:
        """A user's recipes; their author may ask for drafts with visibility=all or private"""
        author = find_user(username)
        visibility = params.pop("visibility")
        viewer: User | None = current_user_or_none()
        if visibility != "public" and (viewer is None or viewer.id != author.id):
            abort(403, f"Only {author.username} can list their drafts; use visibility=public.")
        return _page_response(
            params,
            author=author,
            include_drafts=visibility == "all",
            only_drafts=visibility == "private",
        )
