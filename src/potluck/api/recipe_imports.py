"""Recipe import: POST the address of a recipe page, get a draft recipe made from it."""

from __future__ import annotations

from typing import Any, NoReturn

from flask import url_for
from flask.views import MethodView

from potluck.api.base import Blueprint, ProblemSchema
from potluck.api.recipes import written_headers
from potluck.domain.models import Recipe
from potluck.http.auth import current_user
from potluck.http.errors import PROBLEM_JSON, abort
from potluck.http.limits import strict_limit
from potluck.schemas.recipe_imports import RecipeImportSchema
from potluck.schemas.recipes import RecipeOutputSchema
from potluck.services.fetcher import FetchError, FetchRefused
from potluck.services.recipe_import import NoRecipeFound, import_recipe

blp = Blueprint("recipe_imports", __name__, description="Recipe import from a web page")

_FAILURES = {
    400: "Invalid input (errors names the field), or an address the server does not fetch "
    "from (not http or https, a user name or password in it, a private, loopback or "
    "link-local network, a name that does not resolve) or that a redirect led to; nothing "
    "was fetched from there",
    422: "The page has no schema.org Recipe that Potluck can read; nothing was saved",
    502: "The site did not give a usable page: unreachable, an error status (e.g. 403 or "
    "404), not HTML, too big, too slow, or too many redirects; nothing was saved",
}


def _documented(method: Any) -> Any:
    for status, description in _FAILURES.items():
        method = blp.alt_response(
            status, schema=ProblemSchema, content_type=PROBLEM_JSON, description=description
        )(method)
    return method


@blp.route("/recipes/import")
class RecipeImport(MethodView):
    @strict_limit("IMPORT_RATE_LIMIT", "recipe imports")
    @blp.auth_required()
    @blp.arguments(RecipeImportSchema)
    @blp.response(
        201,
        RecipeOutputSchema,
        description="The imported recipe, a draft of yours; its image is the cover when the "
        "page has one that could be fetched",
        headers={"Location": {"schema": {"type": "string"}}},
    )
    @_documented
    def post(self, data: dict[str, Any]) -> tuple[Recipe, int, dict[str, str]]:
        """Import a recipe from a web page, as a draft"""
        try:
            recipe = import_recipe(data["url"], current_user)
        except (FetchError, NoRecipeFound) as failure:
            _answer_failure(failure)
        location = url_for("recipes.RecipeItem", recipe_id=recipe.id)
        return recipe, 201, {**written_headers(recipe), "Location": location}


def _answer_failure(failure: FetchError | NoRecipeFound) -> NoReturn:
    """Each way an import fails, as its problem+json answer (see _FAILURES)."""
    if isinstance(failure, FetchRefused):
        abort(400, failure.detail, errors={"url": [failure.detail]})
    abort(422 if isinstance(failure, NoRecipeFound) else 502, failure.detail)
