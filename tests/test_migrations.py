"""The Alembic migrations build exactly the schema the models describe, both ways."""

from __future__ import annotations

import warnings
from datetime import datetime
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import insert, inspect, select, text
from sqlalchemy.exc import IntegrityError, SAWarning

from potluck.domain.models import User, described_by_models


def _differences(db: Any) -> list[Any]:
    with db.engine.connect() as connection, warnings.catch_warnings():
        # SQLite cannot reflect expression indexes (lower(username)); Alembic says so.
        warnings.filterwarnings("ignore", "autogenerate skipping", UserWarning)
        warnings.filterwarnings("ignore", "Skipped unsupported reflection", SAWarning)
        context = MigrationContext.configure(
            connection, opts={"include_object": described_by_models}
        )
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


def test_accounts_migration_keeps_existing_users_usable(app: Flask, db: Any) -> None:
    downgrade(revision="0001")
    columns = {column["name"] for column in inspect(db.engine).get_columns("users")}
    assert "confirmed_at" not in columns
    row = {"password_hash": "x", "display_name": "", "bio": "", "is_active": True}
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (username, email, password_hash, display_name, bio, "
                "is_active, created_at, updated_at) VALUES ('old', 'old@example.com', "
                ":password_hash, '', '', :is_active, :now, :now)"
            ),
            {**row, "now": datetime(2026, 1, 1)},
        )
        # The case-insensitive username index survived the downgrade.
        with pytest.raises(IntegrityError), connection.begin_nested():
            connection.execute(
                text(
                    "INSERT INTO users (username, email, password_hash, display_name, bio, "
                    "is_active, created_at, updated_at) VALUES ('OLD', 'b@example.com', "
                    "'x', '', '', :is_active, :now, :now)"
                ),
                {"is_active": True, "now": datetime(2026, 1, 1)},
            )
    upgrade()
    old = db.session.scalars(select(User)).one()
    assert old.confirmed_at is not None
    assert old.session_generation == 0
    assert _differences(db) == []
