"""API keys of the signed-in user: list, create (the secret is shown once), revoke."""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask.views import MethodView
from sqlalchemy import select

from potluck.api.base import Blueprint
from potluck.domain.api_keys import mint_api_key
from potluck.domain.database import db
from potluck.domain.models import ApiKey, User
from potluck.domain.transactions import commit
from potluck.http.auth import current_user
from potluck.http.errors import abort
from potluck.schemas.api_keys import ApiKeyCreatedSchema, ApiKeyCreateSchema, ApiKeySchema

blp = Blueprint("api_keys", __name__, description="API keys for scripts and tools")


def own_key(key_id: int) -> ApiKey:
    key: ApiKey | None = db.session.get(ApiKey, key_id)
    # Another user's key is as absent as a missing one.
    if key is None or key.user_id != current_user.id:
        abort(404, f"You have no API key {key_id}; GET /api/v1/me/api-keys lists yours.")
    return key


@blp.route("/me/api-keys")
class ApiKeys(MethodView):
    @blp.auth_required(api_key=False)
    @blp.response(200, ApiKeySchema(many=True))
    def get(self) -> list[ApiKey]:
        """Your API keys (without their secrets)"""
        user: User = current_user
        return list(db.session.scalars(select(ApiKey).where(ApiKey.user_id == user.id)))

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
        return own_key(key_id)

    @blp.auth_required(api_key=False)
    @blp.response(204)
    @blp.alt_response(404, response="NOT_FOUND", success=False)
    def delete(self, key_id: int) -> None:
        """Revoke a key: it stops working at once"""
        db.session.delete(own_key(key_id))
        commit()
