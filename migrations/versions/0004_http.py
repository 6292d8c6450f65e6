"""HTTP: user versions for ETags, idempotency keys, cache generations

Revision ID: 0004_http
Revises: 0003_images
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_http"
down_revision = "0003_images"
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTER (no batch copy): SQLite can add a column, and a batch copy of users
    # would lose the lower(username) expression index it cannot reflect.
    op.add_column("users", sa.Column("version", sa.Integer(), server_default="1", nullable=False))
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("headers", sa.JSON(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_index(
        op.f("ix_idempotency_keys_created_at"), "idempotency_keys", ["created_at"], unique=False
    )
    op.create_table(
        "cache_generations",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_cache_generations")),
    )


def downgrade():
    op.drop_table("cache_generations")
    op.drop_index(op.f("ix_idempotency_keys_created_at"), table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    op.drop_column("users", "version")
