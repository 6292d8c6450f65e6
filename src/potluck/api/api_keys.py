"""API keys of the signed-in user: list, create (the secret is shown once), revoke."""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask.views import MethodView

from potluck.api.base import Blueprint
from potluck.domain.api_keys import api_keys_of, mint_api_key, own_api_key, revoke_api_key
from potluck.domain.models import ApiKey
from potluck.domain.transactions import commit
from potluck.http.auth import current_user
from potluck.schemas.api_keys import ApiKeyCreatedSchema, ApiKeyCreateSchema, ApiKeySchema

blp = Blueprint("api_keys", __name__, description="API keys for scripts and tools")


@blp.route("/me/api-keys")
class ApiKeys(MethodView):
    @blp.auth_required(api_key=False)
    @blp.response(200, ApiKeySchema(many=True))
    def get(self) -> list[ApiKey]:
        """Your API keys (without their secrets)"""
        return api_keys_of(current_user)

    @blp.auth_required(api_key=False)
    @blp.arguments(ApiKeyCreateSchema)
    @blp.response(201, ApiKeyCreatedSchema, headers={"Location": {"schema": {"type": "string"}}})
    def post(self, data: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Create a key; its secret is in this answer only"""
        key, secret = mint_api_key(current_user, data["name"], data["scope"], data["expires_at"])
        commit()
        body = {name: getattr(key, name) for name in ApiKeySchema().fields} | {"key": secret}
        return body, 201, {"Location": url_for(".ApiKeyItem", key_id=key.id)}


@blp.route("/me/api-keys/<int:key_id>")
class ApiKeyItem(MethodView):
    @blp.auth_required(api_key=False)
    @blp.response(200, ApiKeySchema)
    @blp.alt_response(404, response="NOT_FOUND", success=False)
    def get(self, key_id: int) -> ApiKey:
        """One of your API keys"""
        return own_api_key(current_user, key_id)

    @blp.auth_required(api_key=False)
    @blp.response(204)
    @blp.alt_response(404, response="NOT_FOUND", success=False)
    def delete(self, key_id: int) -> None:
        """Revoke a key: it stops working at once"""
        revoke_api_key(current_user, key_id)
        commit()
