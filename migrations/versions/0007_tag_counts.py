"""Published-recipe counts on tags, kept by database triggers, for GET /tags

Revision ID: 0007_tag_counts
Revises: 0006_keyset
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_tag_counts"
down_revision = "0006_keyset"
branch_labels = None
depends_on = None

_BACKFILL = (
    "UPDATE tags SET recipe_count = (SELECT count(*) FROM recipe_tags rt"
    " JOIN recipes r ON r.id = rt.recipe_id WHERE rt.tag_id = tags.id AND r.is_publish)"
)
_SQLITE_PUBLISHED = "(SELECT is_publish FROM recipes WHERE id = {id})"
_SQLITE_OF_RECIPE = "id IN (SELECT tag_id FROM recipe_tags WHERE recipe_id = {id})"

# A link counts while its recipe is published. A recipe's delete takes its links off first
# (BEFORE), since links cascaded after the recipe is gone no longer see whether it was public.
_SQLITE_UP = [
    "CREATE TRIGGER recipe_tags_count_insert AFTER INSERT ON recipe_tags"
    f" WHEN {_SQLITE_PUBLISHED.format(id='new.recipe_id')} BEGIN"
    " UPDATE tags SET recipe_count = recipe_count + 1 WHERE id = new.tag_id; END",
    "CREATE TRIGGER recipe_tags_count_delete AFTER DELETE ON recipe_tags"
    f" WHEN {_SQLITE_PUBLISHED.format(id='old.recipe_id')} BEGIN"
    " UPDATE tags SET recipe_count = recipe_count - 1 WHERE id = old.tag_id; END",
    "CREATE TRIGGER recipes_count_publish AFTER UPDATE OF is_publish ON recipes"
    " WHEN new.is_publish IS NOT old.is_publish BEGIN UPDATE tags SET recipe_count ="
    " recipe_count + (CASE WHEN new.is_publish THEN 1 ELSE -1 END)"
    f" WHERE {_SQLITE_OF_RECIPE.format(id='new.id')}; END",
    "CREATE TRIGGER recipes_count_delete BEFORE DELETE ON recipes WHEN old.is_publish BEGIN"
    f" UPDATE tags SET recipe_count = recipe_count - 1 WHERE {_SQLITE_OF_RECIPE.format(id='old.id')};"
    " END",
]
_SQLITE_DOWN = [
    "DROP TRIGGER recipes_count_delete",
    "DROP TRIGGER recipes_count_publish",
    "DROP TRIGGER recipe_tags_count_delete",
    "DROP TRIGGER recipe_tags_count_insert",
]

# Statement-level link triggers: a bulk INSERT of many links is one UPDATE per tag, not one
# per link (many updates of one row in one transaction pile up row versions on PostgreSQL).
# Each function locks its tags in id order first, so that two writers cannot deadlock there.
_POSTGRESQL_LINKS = """CREATE FUNCTION recipe_tags_count_{op}() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM 1 FROM tags WHERE id IN (SELECT l.tag_id FROM {table} l
        JOIN recipes r ON r.id = l.recipe_id AND r.is_publish) ORDER BY id FOR UPDATE;
      UPDATE tags SET recipe_count = recipe_count {sign} changed.n
        FROM (SELECT l.tag_id, count(*) AS n FROM {table} l
              JOIN recipes r ON r.id = l.recipe_id AND r.is_publish GROUP BY l.tag_id) changed
        WHERE tags.id = changed.tag_id;
      RETURN NULL;
    END $$"""
_POSTGRESQL_RECIPE = """CREATE FUNCTION recipes_count_{op}() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM 1 FROM tags WHERE id IN (SELECT tag_id FROM recipe_tags WHERE recipe_id = {row}.id)
        ORDER BY id FOR UPDATE;
      UPDATE tags SET recipe_count = recipe_count + {delta}
        WHERE id IN (SELECT tag_id FROM recipe_tags WHERE recipe_id = {row}.id);
      RETURN {row};
    END $$"""
_POSTGRESQL_UP = [
    _POSTGRESQL_LINKS.format(op="insert", sign="+", table="new_links"),
    "CREATE TRIGGER recipe_tags_count_insert AFTER INSERT ON recipe_tags"
    " REFERENCING NEW TABLE AS new_links"
    " FOR EACH STATEMENT EXECUTE FUNCTION recipe_tags_count_insert()",
    _POSTGRESQL_LINKS.format(op="delete", sign="-", table="old_links"),
    "CREATE TRIGGER recipe_tags_count_delete AFTER DELETE ON recipe_tags"
    " REFERENCING OLD TABLE AS old_links"
    " FOR EACH STATEMENT EXECUTE FUNCTION recipe_tags_count_delete()",
    _POSTGRESQL_RECIPE.format(
        op="publish", row="NEW", delta="CASE WHEN NEW.is_publish THEN 1 ELSE -1 END"
    ),
    "CREATE TRIGGER recipes_count_publish AFTER UPDATE OF is_publish ON recipes FOR EACH ROW"
    " WHEN (OLD.is_publish IS DISTINCT FROM NEW.is_publish)"
    " EXECUTE FUNCTION recipes_count_publish()",
    _POSTGRESQL_RECIPE.format(op="delete", row="OLD", delta="-1"),
    "CREATE TRIGGER recipes_count_delete BEFORE DELETE ON recipes FOR EACH ROW"
    " WHEN (OLD.is_publish) EXECUTE FUNCTION recipes_count_delete()",
]
_POSTGRESQL_DOWN = [
    "DROP TRIGGER recipes_count_delete ON recipes",
    "DROP FUNCTION recipes_count_delete()",
    "DROP TRIGGER recipes_count_publish ON recipes",
    "DROP FUNCTION recipes_count_publish()",
    "DROP TRIGGER recipe_tags_count_delete ON recipe_tags",
    "DROP FUNCTION recipe_tags_count_delete()",
    "DROP TRIGGER recipe_tags_count_insert ON recipe_tags",
    "DROP FUNCTION recipe_tags_count_insert()",
]


def _run(statements):
    for statement in statements:
        op.execute(statement)


def upgrade():
    # Plain ALTER (no batch copy), as in 0004: SQLite can add a column in place.
    op.add_column(
        "tags", sa.Column("recipe_count", sa.Integer(), server_default="0", nullable=False)
    )
    op.execute(_BACKFILL)
    op.create_index(op.f("ix_tags_recipe_count_name"), "tags", ["recipe_count", "name"])
    dialect = op.get_bind().dialect.name
    _run(_POSTGRESQL_UP if dialect == "postgresql" else _SQLITE_UP)


def downgrade():
    dialect = op.get_bind().dialect.name
    _run(_POSTGRESQL_DOWN if dialect == "postgresql" else _SQLITE_DOWN)
    op.drop_index(op.f("ix_tags_recipe_count_name"), table_name="tags")
    op.drop_column("tags", "recipe_count")
