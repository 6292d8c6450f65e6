"""The JSON API under /api/v1, its OpenAPI document, and the book-compatible aliases."""

from __future__ import annotations

from flask import Blueprint as FlaskBlueprint
from flask import Flask, Response, send_from_directory
from flask.views import MethodView
from swagger_ui_bundle import swagger_ui_path

from potluck.api import accounts, api_keys, images, recipe_imports, recipes, tags, tokens, users
from potluck.api.base import Api
from potluck.api.openapi_links import declare_links

API_PREFIX = "/api/v1"
RESOURCES = (
    users.blp,
    accounts.blp,
    tokens.blp,
    api_keys.blp,
    recipes.blp,
    recipe_imports.blp,
    tags.blp,
    images.blp,
)

api = Api()


class _Revoke(MethodView):
    """The course's `POST /revoke` is our `DELETE /tokens`."""

    post = delete = tokens.Tokens.delete


def _book_aliases() -> FlaskBlueprint:
    """`/token`, `/refresh`, `/revoke` and `/users/avatar` from the Flask API course, sharing
    our handlers."""
    aliases = FlaskBlueprint("book", __name__)
    aliases.add_url_rule("/token", view_func=tokens.Tokens.as_view("token"), methods=["POST"])
    aliases.add_url_rule("/refresh", view_func=tokens.TokenRefresh.as_view("refresh"))
    aliases.add_url_rule("/revoke", view_func=_Revoke.as_view("revoke"))
    aliases.add_url_rule(
        "/users/avatar", view_func=images.MyAvatar.as_view("avatar"), methods=["PUT", "DELETE"]
    )
    return aliases


def _docs_assets() -> FlaskBlueprint:
    assets = FlaskBlueprint("docs_assets", __name__)

    @assets.get(f"{API_PREFIX}/docs/assets/<path:filename>")
    def asset(filename: str) -> Response:
        response = send_from_directory(str(swagger_ui_path), filename, max_age=86400)
        response.headers["Cache-Control"] = "public, max-age=86400"
        return response

    return assets


def init_app(app: Flask) -> None:
    api.init_app(app)
    for blueprint in RESOURCES:
        api.register_blueprint(blueprint, url_prefix=API_PREFIX)
        # The same handlers at the root, for the course's clients (kept out of the docs).
        app.register_blueprint(blueprint, name=f"root_{blueprint.name}", url_prefix="")
    api.document_http_rules()
    declare_links(api.spec)
    app.register_blueprint(_book_aliases())
    app.register_blueprint(_docs_assets())
    app.register_blueprint(images.media)
