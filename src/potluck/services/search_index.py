"""The SQL that fills the full-text index, written once: the migrations build the triggers
from it and the seeder fills whole batches with it, so the two cannot drift apart.

SQLite keeps an FTS5 table `recipe_search` (rowid = recipe id); PostgreSQL a `search_vector`
column computed by the function `recipe_search_vector`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.orm import Session

# SQLite: the indexed text of one recipe, with {recipe} the alias of a recipes row.
_SQLITE_INGREDIENTS = "(SELECT group_concat(value, ' ') FROM json_each({recipe}.ingredients))"
_SQLITE_TAGS = (
    "(SELECT group_concat(t.name, ' ') FROM recipe_tags rt JOIN tags t ON t.id = rt.tag_id"
    " WHERE rt.recipe_id = {recipe_id})"
)


def sqlite_indexed_row(recipe: str) -> str:
    """rowid, name, description, ingredients, tags of the recipes row called `recipe`."""
    ingredients = _SQLITE_INGREDIENTS.format(recipe=recipe)
    tags = _tags_of(f"{recipe}.id")
    return f"{recipe}.id, {recipe}.name, {recipe}.description, {ingredients}, {tags}"


def _tags_of(recipe_id: str) -> str:
    return _SQLITE_TAGS.format(recipe_id=recipe_id)


# Every piece below is fixed text of ours: no user input ever reaches these statements.
SQLITE_COLUMNS = "recipe_search (rowid, name, description, ingredients, tags)"
SQLITE_CREATE = (
    # Diacritics and case folded by the tokenizer; prefix indexes make "choc*" cheap.
    "CREATE VIRTUAL TABLE recipe_search USING fts5(name, description, ingredients, tags,"
    " tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3')"
)
SQLITE_FILL = f"INSERT INTO {SQLITE_COLUMNS} SELECT {sqlite_indexed_row('r')} FROM recipes r"
SQLITE_INSERT_TRIGGERS = {
    "recipes_search_insert": "CREATE TRIGGER recipes_search_insert AFTER INSERT ON recipes"
    f" BEGIN INSERT INTO {SQLITE_COLUMNS} VALUES ({sqlite_indexed_row('new')}); END",
    "recipe_tags_search_insert": "CREATE TRIGGER recipe_tags_search_insert AFTER INSERT ON"
    f" recipe_tags BEGIN UPDATE recipe_search SET tags = {_tags_of('new.recipe_id')}"
    " WHERE rowid = new.recipe_id; END",
}
SQLITE_OTHER_TRIGGERS = {
    "recipes_search_update": "CREATE TRIGGER recipes_search_update AFTER UPDATE OF name,"
    " description, ingredients ON recipes BEGIN UPDATE recipe_search SET name = new.name,"
    " description = new.description,"
    f" ingredients = {_SQLITE_INGREDIENTS.format(recipe='new')} WHERE rowid = new.id; END",
    "recipes_search_delete": "CREATE TRIGGER recipes_search_delete AFTER DELETE ON recipes"
    " BEGIN DELETE FROM recipe_search WHERE rowid = old.id; END",
    "recipe_tags_search_delete": "CREATE TRIGGER recipe_tags_search_delete AFTER DELETE ON"
    f" recipe_tags BEGIN UPDATE recipe_search SET tags = {_tags_of('old.recipe_id')}"
    " WHERE rowid = old.recipe_id; END",
}

# PostgreSQL: name weighs most, then tags, ingredients, description; accents and case folded.
# Tags in name order, so a vector is the same however its links were written.
# Parameters are named apart from every column: in SQL functions a column name wins.
POSTGRESQL_VECTOR_FUNCTION = """CREATE OR REPLACE FUNCTION recipe_search_vector(
      of_id integer, of_name text, of_description text, of_ingredients json)
    RETURNS tsvector LANGUAGE sql STABLE AS $$
      SELECT
        setweight(to_tsvector('simple', unaccent(coalesce(of_name, ''))), 'A') ||
        setweight(to_tsvector('simple', unaccent(coalesce((SELECT string_agg(t.name, ' '
          ORDER BY t.name) FROM recipe_tags rt JOIN tags t ON t.id = rt.tag_id
          WHERE rt.recipe_id = of_id), ''))), 'B') ||
        setweight(to_tsvector('simple', unaccent(coalesce((SELECT string_agg(value, ' ')
          FROM json_array_elements_text(of_ingredients)), ''))), 'C') ||
        setweight(to_tsvector('simple', unaccent(coalesce(of_description, ''))), 'D')
    $$"""
POSTGRESQL_VECTOR = "recipe_search_vector({0}.id, {0}.name, {0}.description, {0}.ingredients)"
POSTGRESQL_FILL = f"UPDATE recipes SET search_vector = {POSTGRESQL_VECTOR.format('recipes')}"
_POSTGRESQL_TRIGGERS = (("recipes", "recipes_search"), ("recipe_tags", "recipe_tags_search"))


@contextmanager
def filled_in_bulk(session: Session) -> Iterator[None]:
    """Inside, inserting recipes and their tags leaves the index alone (no per-row
    triggers); `fill_index` then indexes a range of ids in one statement. The triggers are
    back on at the end, in the same transaction, so no other writer ever sees them off."""
    if session.get_bind().dialect.name == "postgresql":
        for table, trigger in _POSTGRESQL_TRIGGERS:
            session.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}"))
        yield
        for table, trigger in _POSTGRESQL_TRIGGERS:
            session.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}"))
        return
    for name in SQLITE_INSERT_TRIGGERS:
        session.execute(text(f"DROP TRIGGER {name}"))
    yield
    for statement in SQLITE_INSERT_TRIGGERS.values():
        session.execute(text(statement))


def fill_index(session: Session, first_id: int, last_id: int) -> None:
    """Index the recipes with ids from `first_id` to `last_id`, tags included, as the
    triggers would have."""
    if session.get_bind().dialect.name == "postgresql":
        where = " WHERE recipes.id BETWEEN :first AND :last"
        session.execute(text(POSTGRESQL_FILL + where), {"first": first_id, "last": last_id})
    else:
        where = " WHERE r.id BETWEEN :first AND :last"
        session.execute(text(SQLITE_FILL + where), {"first": first_id, "last": last_id})
