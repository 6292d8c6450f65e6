"""PostgreSQL: the search vector computed by one function, shared by the trigger and the seeder

Revision ID: 0008_search_vector_function
Revises: 0007_tag_counts
"""

from alembic import op

from potluck.services.search_index import POSTGRESQL_VECTOR, POSTGRESQL_VECTOR_FUNCTION

revision = "0008_search_vector_function"
down_revision = "0007_tag_counts"
branch_labels = None
depends_on = None

_REFRESH = """CREATE OR REPLACE FUNCTION recipes_search_refresh() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      NEW.search_vector := {vector};
      RETURN NEW;
    END $$"""


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite's triggers already come from potluck.search_index
    op.execute(POSTGRESQL_VECTOR_FUNCTION)
    op.execute(_REFRESH.format(vector=POSTGRESQL_VECTOR.format("NEW")))


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    inline = """
        setweight(to_tsvector('simple', unaccent(coalesce(NEW.name, ''))), 'A') ||
        setweight(to_tsvector('simple', unaccent(coalesce((SELECT string_agg(t.name, ' ')
          FROM recipe_tags rt JOIN tags t ON t.id = rt.tag_id WHERE rt.recipe_id = NEW.id),
          ''))), 'B') ||
        setweight(to_tsvector('simple', unaccent(coalesce((SELECT string_agg(value, ' ')
          FROM json_array_elements_text(NEW.ingredients)), ''))), 'C') ||
        setweight(to_tsvector('simple', unaccent(coalesce(NEW.description, ''))), 'D')"""
    op.execute(_REFRESH.format(vector=inline))
    op.execute("DROP FUNCTION recipe_search_vector(integer, text, text, json)")
