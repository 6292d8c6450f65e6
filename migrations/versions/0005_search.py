"""Full-text search kept by the database: FTS5 on SQLite, tsvector + GIN on PostgreSQL

Revision ID: 0005_search
Revises: 0004_http
"""

from alembic import op

revision = "0005_search"
down_revision = "0004_http"
branch_labels = None
depends_on = None

_SQLITE_TAGS = (
    "(SELECT group_concat(t.name, ' ') FROM recipe_tags rt JOIN tags t ON t.id = rt.tag_id"
    " WHERE rt.recipe_id = {id})"
)
_SQLITE_INGREDIENTS = "(SELECT group_concat(value, ' ') FROM json_each({ingredients}))"

_SQLITE_UP = [
    # Diacritics and case folded by the tokenizer; prefix indexes make "choc*" cheap.
    "CREATE VIRTUAL TABLE recipe_search USING fts5(name, description, ingredients, tags,"
    " tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3')",
    "INSERT INTO recipe_search (rowid, name, description, ingredients, tags)"
    f" SELECT r.id, r.name, r.description, {_SQLITE_INGREDIENTS.format(ingredients='r.ingredients')},"
    f" {_SQLITE_TAGS.format(id='r.id')} FROM recipes r",
    "CREATE TRIGGER recipes_search_insert AFTER INSERT ON recipes BEGIN"
    " INSERT INTO recipe_search (rowid, name, description, ingredients, tags) VALUES"
    f" (new.id, new.name, new.description, {_SQLITE_INGREDIENTS.format(ingredients='new.ingredients')},"
    f" {_SQLITE_TAGS.format(id='new.id')}); END",
    "CREATE TRIGGER recipes_search_update AFTER UPDATE OF name, description, ingredients"
    " ON recipes BEGIN UPDATE recipe_search SET name = new.name, description = new.description,"
    f" ingredients = {_SQLITE_INGREDIENTS.format(ingredients='new.ingredients')}"
    " WHERE rowid = new.id; END",
    "CREATE TRIGGER recipes_search_delete AFTER DELETE ON recipes BEGIN"
    " DELETE FROM recipe_search WHERE rowid = old.id; END",
    "CREATE TRIGGER recipe_tags_search_insert AFTER INSERT ON recipe_tags BEGIN"
    f" UPDATE recipe_search SET tags = {_SQLITE_TAGS.format(id='new.recipe_id')}"
    " WHERE rowid = new.recipe_id; END",
    "CREATE TRIGGER recipe_tags_search_delete AFTER DELETE ON recipe_tags BEGIN"
    f" UPDATE recipe_search SET tags = {_SQLITE_TAGS.format(id='old.recipe_id')}"
    " WHERE rowid = old.recipe_id; END",
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
