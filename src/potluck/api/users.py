"""Accounts: registration, public profiles and the signed-in user's own profile."""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask.views import MethodView
from sqlalchemy import func, select
from sqlalchemy.orm import lazyload

from potluck.api.base import Blueprint
from potluck.domain.database import db
from potluck.domain.models import User
from potluck.domain.preconditions import entity_tag
from potluck.domain.transactions import commit
from potluck.http.auth import current_user
from potluck.http.conditional import require_match
from potluck.http.errors import abort
from potluck.http.limits import strict_limit
from potluck.http.reads import Audience, Built, Read
from potluck.schemas.encoding import dumps_json
from potluck.schemas.users import (
    PrivateUserSchema,
    ProfileUpdateSchema,
    UserCreateSchema,
    UserSchema,
)
from potluck.services.accounts import register_user

blp = Blueprint("users", __name__, description="Accounts and profiles")


def find_user(username: str) -> User:
    # The avatar only when shown: a profile's 304 needs the row's version alone.
    found = select(User).options(lazyload(User.avatar_image))
    user: User | None = db.session.scalar(
        found.where(func.lower(User.username) == username.lower())
    )
    if user is None or not user.is_active:
        abort(404, f"There is no user called {username!r}.")
    return user


@blp.route("/users")
class Users(MethodView):
    @strict_limit("REGISTRATION_RATE_LIMIT", "registrations from this address")
    @blp.arguments(UserCreateSchema)
    @blp.response(201, PrivateUserSchema, headers={"Location": {"schema": {"type": "string"}}})
    @blp.alt_response(409, response="CONFLICT", success=False)
    @blp.alt_response(429, response="TOO_MANY_REQUESTS", success=False)
    def post(self, data: dict[str, Any]) -> tuple[User, int, dict[str, str]]:
        """Register an account; it works once confirmed by the link mailed to its address"""
        user = register_user(
            data["username"], data["email"], data["password"], data["display_name"]
        )
        commit()
        return user, 201, {"Location": url_for(".UserItem", username=user.username)}


@blp.route("/users/<username:username>")
class UserItem(MethodView):
    @blp.read(UserSchema)
    @blp.alt_response(404, response="NOT_FOUND", success=False)
    def get(self, username: str) -> Read:
        """A user's public profile"""
        return _profile_read(find_user(username), _PROFILE, "public")


@blp.route("/me")
class Me(MethodView):
    @blp.auth_required()
    @blp.read(PrivateUserSchema)
    def get(self) -> Read:
        """The signed-in user, email included"""
        return _profile_read(current_user, _OWN_PROFILE, "personal")

    @blp.auth_required()
    @blp.arguments(ProfileUpdateSchema, required=False)
    @blp.response(200, PrivateUserSchema)
    def patch(self, data: dict[str, Any]) -> tuple[User, int, dict[str, str]]:
        """Change the signed-in user's profile"""
        user: User = current_user
        require_match(_own_profile_etag(user))  # If-Match: 412 on a stale copy
        for field, value in data.items():
            setattr(user, field, value)
        commit()
        return user, 200, {"ETag": _own_profile_etag(user)}


# Built once, as the lists' envelopes are.
_PROFILE = UserSchema()
_OWN_PROFILE = PrivateUserSchema()


def _profile_read(user: User, schema: UserSchema, audience: Audience) -> Read:
    """An account as `schema` shows it, versioned by the account's row."""
    return Read(
        lambda: Built(dumps_json(schema.dump(user))),
        audience=audience,
        version=f"{user.version_key}|{type(schema).__name__}",
        last_modified=user.updated_at,
    )


def _own_profile_etag(user: User) -> str:
    return entity_tag(f"{user.version_key}|{PrivateUserSchema.__name__}")
