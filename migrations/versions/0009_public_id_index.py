"""recipes (is_publish, id): a search's matches checked for visibility without the wide rows

Revision ID: 0009_public_id_index
Revises: 0008_search_vector_function
"""

from alembic import op

revision = "0009_public_id_index"
down_revision = "0008_search_vector_function"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_recipes_public_id", "recipes", ["is_publish", "id"], unique=False)


def downgrade():
    op.drop_index("ix_recipes_public_id", table_name="recipes")
