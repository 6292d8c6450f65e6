"""The seeder fills the full-text index in bulk, with the triggers off: the index it leaves
must be exactly the one the triggers build, and the triggers must be back afterwards."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import text

from potluck.services.seed import seed_database


def search_index(db: Any) -> list[tuple[Any, ...]]:
    if db.session.get_bind().dialect.name == "postgresql":
        query = "SELECT id, search_vector::text FROM recipes ORDER BY id"
    else:
        query = (
            "SELECT rowid, name, description, ingredients, tags FROM recipe_search ORDER BY rowid"
        )
    return [tuple(row) for row in db.session.execute(text(query))]


def rebuild_by_triggers(db: Any) -> None:
    """Delete every recipe and insert it again, so the triggers index each one row by row."""
    for statement in (
        "CREATE TEMPORARY TABLE saved_recipes AS SELECT * FROM recipes",
        "CREATE TEMPORARY TABLE saved_tags AS SELECT * FROM recipe_tags",
        "DELETE FROM recipes",
        "INSERT INTO recipes SELECT * FROM saved_recipes ORDER BY id",
        "INSERT INTO recipe_tags SELECT * FROM saved_tags",
        "DROP TABLE saved_recipes",
        "DROP TABLE saved_tags",
    ):
        db.session.execute(text(statement))
    db.session.commit()


def test_the_seeded_index_is_the_one_the_triggers_build(db: Any) -> None:
    seed_database(users=6, recipes=150)
    # Ids after existing recipes, drafts among them (indexed as every recipe is).
    seed_database(users=2, recipes=70, drafts=9, random_seed=2)
    seeded = search_index(db)
    assert len(seeded) == 229
    assert all(None not in row and "" not in row for row in seeded)

    rebuild_by_triggers(db)
    assert search_index(db) == seeded
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(
            text("INSERT INTO recipe_search (recipe_search) VALUES ('integrity-check')")
        )


def test_writes_after_a_seed_still_reach_the_index(
    db: Any, client: FlaskClient, auth_headers: dict[str, str], make_recipe: Any
) -> None:
    seed_database(users=2, recipes=20)
    recipe = make_recipe(auth_headers, name="Quokka Stew", tags=["marsupial"])
    for q in ("quokka", "marsupial"):
        response = client.get("/api/v1/recipes", query_string={"q": q})
        assert [found["id"] for found in response.json["data"]] == [recipe["id"]]
