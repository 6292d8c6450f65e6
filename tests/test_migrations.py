"""The Alembic migrations build exactly the schema the models describe, both ways."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import insert, inspect
from sqlalchemy.exc import IntegrityError, SAWarning

from potluck.models import User


def _differences(db: Any) -> list[Any]:
    with db.engine.connect() as connection, warnings.catch_warnings():
        # SQLite cannot reflect expression indexes (lower(username)); Alembic says so.
        warnings.filterwarnings("ignore", "autogenerate skipping", UserWarning)
        warnings.filterwarnings("ignore", "Skipped unsupported reflection", SAWarning)
        context = MigrationContext.configure(connection)
        return list(compare_metadata(context, db.metadata))


def test_migrated_schema_matches_the_models(app: Flask, db: Any) -> None:
    assert _differences(db) == []


def test_downgrade_to_nothing_and_back(app: Flask, db: Any) -> None:
    downgrade(revision="base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    upgrade()
    tables = set(inspect(db.engine).get_table_names())
    assert {"users", "recipes", "tags", "recipe_tags", "revoked_tokens"} <= tables
    assert _differences(db) == []


def test_usernames_are_unique_whatever_their_case(app: Flask, db: Any) -> None:
    row = {"password_hash": "x", "display_name": "", "bio": "", "is_active": True}
    db.session.execute(insert(User), [{**row, "username": "alice", "email": "a@example.com"}])
    with pytest.raises(IntegrityError, match=r"uq_users_username_lower"):
        db.session.execute(insert(User), [{**row, "username": "ALICE", "email": "b@example.com"}])
    db.session.rollback()
