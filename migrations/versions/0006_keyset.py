"""Keyset paging: indexes for the cook_time order, NULLs last both ways

Revision ID: 0006_keyset
Revises: 0005_search
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_keyset"
down_revision = "0005_search"
branch_labels = None
depends_on = None


def upgrade():
    # The same expressions the queries order and seek by (models.COOK_TIME_KEYS), constants
    # inline so SQLite and PostgreSQL match them to these indexes.
    op.create_index(
        "ix_recipes_public_cook_time_asc",
        "recipes",
        ["is_publish", sa.text("coalesce(cook_time, 1441)"), "id"],
    )
    op.create_index(
        "ix_recipes_public_cook_time_desc",
        "recipes",
        ["is_publish", sa.text("coalesce(cook_time, 0)"), "id"],
    )


def downgrade():
    op.drop_index("ix_recipes_public_cook_time_desc", table_name="recipes")
    op.drop_index("ix_recipes_public_cook_time_asc", table_name="recipes")
