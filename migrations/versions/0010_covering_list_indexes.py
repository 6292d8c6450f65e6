"""The public sort indexes cover a list row (cook time, author, version, update time): a
list page is read from one index, in order, without the wide recipe rows

Revision ID: 0010_covering_list_indexes
Revises: 0009_public_id_index
"""

from alembic import op
from sqlalchemy import text

revision = "0010_covering_list_indexes"
down_revision = "0009_public_id_index"
branch_labels = None
depends_on = None

_ROW = ["cook_time", "author_id", "version", "updated_at"]
_SORTS = {
    "ix_recipes_public_created": ["created_at"],
    "ix_recipes_public_updated": ["updated_at"],
    "ix_recipes_public_name": ["name"],
    "ix_recipes_public_servings": ["num_of_servings"],
    "ix_recipes_public_cook_time_asc": [text("coalesce(cook_time, 1441)")],
    "ix_recipes_public_cook_time_desc": [text("coalesce(cook_time, 0)")],
}


def _rebuild(covering: bool) -> None:
    for name, key in _SORTS.items():
        op.drop_index(name, table_name="recipes")
        row = [column for column in _ROW if column not in key] if covering else []
        op.create_index(name, "recipes", ["is_publish", *key, "id", *row])


def upgrade():
    _rebuild(covering=True)


def downgrade():
    _rebuild(covering=False)
