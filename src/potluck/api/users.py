"""Accounts: registration, public profiles and the signed-in user's own profile."""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask.views import MethodView
from sqlalchemy import func, select

from potluck.api.base import Blueprint
from potluck.domain.database import db
from potluck.domain.models import User
from potluck.domain.transactions import commit
from potluck.http.auth import current_user
from potluck.http.errors import abort
from potluck.http.limits import strict_limit
from potluck.schemas.users import (
    PrivateUserSchema,
    ProfileUpdateSchema,
    UserCreateSchema,
    UserSchema,
)
from potluck.services.accounts import register_user

blp = Blueprint("users", __name__, description="Accounts and profiles")


def find_user(username: str) -> User:
    user: User | None = db.session.scalar(
        select(User).where(func.lower(User.username) == username.lower())
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
    @blp.etag
    @blp.response(200, UserSchema)
    @blp.alt_response(404, response="NOT_FOUND", success=False)
    def get(self, username: str) -> User:
        """A user's public profile"""
        return find_user(username)


@blp.route("/me")
class Me(MethodView):
    @blp.auth_required()
    @blp.etag
    @blp.response(200, PrivateUserSchema)
    def get(self) -> User:
        """The signed-in user, email included"""
        user: User = current_user
        return user

    @blp.auth_required()
    @blp.etag
    @blp.arguments(ProfileUpdateSchema, required=False)
    @blp.response(200, PrivateUserSchema)
    def patch(self, data: dict[str, Any]) -> User:
        """Change the signed-in user's profile"""
        user: User = current_user
        blp.check_etag(user, PrivateUserSchema)  # If-Match: 412 on a stale copy
        for field, value in data.items():
            setattr(user, field, value)
        commit()
        return user
