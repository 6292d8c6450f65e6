"""Full-text search kept by the database: FTS5 on SQLite, tsvector + GIN on PostgreSQL

Revision ID: 0005_search
Revises: 0004_http
"""

from alembic import op

from potluck.services.search_index import SQLITE_CREATE, SQLITE_FILL, SQLITE_INSERT_TRIGGERS, SQLITE_OTHER_TRIGGERS

revision = "0005_search"
down_revision = "0004_http"
branch_labels = None
depends_on = None

# The SQLite index and its triggers are written once, in potluck.search_index, which the
# seeder shares to fill whole batches.
_SQLITE_UP = [
    SQLITE_CREATE,
    SQLITE_FILL,
    *SQLITE_INSERT_TRIGGERS.values(),
    *SQLITE_OTHER_TRIGGERS.values(),
]
_SQLITE_DOWN = [
    "DROP TRIGGER recipe_tags_search_delete",
    "DROP TRIGGER recipe_tags_search_insert",
    "DROP TRIGGER recipes_search_delete",
    "DROP TRIGGER recipes_search_update",
    "DROP TRIGGER recipes_search_insert",
    "DROP TABLE recipe_search",
]

_POSTGRESQL_UP = [
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    "ALTER TABLE recipes ADD COLUMN search_vector tsvector",
    # Name weighs most, then tags, ingredients, description; accents and case folded.
    """CREATE FUNCTION recipes_search_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      NEW.search_vector :=
        setweight(to_tsvector('simple', unaccent(coalesce(NEW.name, ''))), 'A') ||
        setweight(to_tsvector('simple', unaccent(coalesce((SELECT string_agg(t.name, ' ')
          FROM recipe_tags rt JOIN tags t ON t.id = rt.tag_id WHERE rt.recipe_id = NEW.id),
          ''))), 'B') ||
        setweight(to_tsvector('simple', unaccent(coalesce((SELECT string_agg(value, ' ')
          FROM json_array_elements_text(NEW.ingredients)), ''))), 'C') ||
        setweight(to_tsvector('simple', unaccent(coalesce(NEW.description, ''))), 'D');
      RETURN NEW;
    END $$""",
    "CREATE TRIGGER recipes_search BEFORE INSERT OR UPDATE ON recipes"
    " FOR EACH ROW EXECUTE FUNCTION recipes_search_refresh()",
    # A tag added or removed: touch the recipe so its vector is computed again.
    """CREATE FUNCTION recipe_tags_search_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE recipes SET search_vector = NULL
        WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.recipe_id ELSE NEW.recipe_id END;
      RETURN NULL;
    END $$""",
    "CREATE TRIGGER recipe_tags_search AFTER INSERT OR DELETE ON recipe_tags"
    " FOR EACH ROW EXECUTE FUNCTION recipe_tags_search_refresh()",
    "UPDATE recipes SET search_vector = NULL",
    "CREATE INDEX ix_recipes_search_vector ON recipes USING gin (search_vector)",
]
_POSTGRESQL_DOWN = [
    "DROP INDEX ix_recipes_search_vector",
    "DROP TRIGGER recipe_tags_search ON recipe_tags",
    "DROP FUNCTION recipe_tags_search_refresh()",
    "DROP TRIGGER recipes_search ON recipes",
    "DROP FUNCTION recipes_search_refresh()",
    "ALTER TABLE recipes DROP COLUMN search_vector",
]


def _run(statements):
    for statement in statements:
        op.execute(statement)


def upgrade():
    dialect = op.get_bind().dialect.name
    _run(_POSTGRESQL_UP if dialect == "postgresql" else _SQLITE_UP)


def downgrade():
    dialect = op.get_bind().dialect.name
    _run(_POSTGRESQL_DOWN if dialect == "postgresql" else _SQLITE_DOWN)
