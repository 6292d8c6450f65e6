"""images, recipe covers and user avatars

Revision ID: 0003_images
Revises: 0002_accounts
Create Date: 2026-11-22 22:45:00.000000

New tables only, so SQLite never has to rebuild users or recipes (and their expression
index) to add a foreign key.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003_images'
down_revision = '0002_accounts'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('images',
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('hash', name=op.f('pk_images'))
    )
    op.create_table('recipe_covers',
    sa.Column('recipe_id', sa.Integer(), nullable=False),
    sa.Column('image_hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['image_hash'], ['images.hash'], name=op.f('fk_recipe_covers_image_hash_images')),
    sa.ForeignKeyConstraint(['recipe_id'], ['recipes.id'], name=op.f('fk_recipe_covers_recipe_id_recipes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('recipe_id', name=op.f('pk_recipe_covers'))
    )
    with op.batch_alter_table('recipe_covers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recipe_covers_image_hash'), ['image_hash'], unique=False)

    op.create_table('user_avatars',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('image_hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['image_hash'], ['images.hash'], name=op.f('fk_user_avatars_image_hash_images')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_avatars_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_user_avatars'))
    )
    with op.batch_alter_table('user_avatars', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_avatars_image_hash'), ['image_hash'], unique=False)


def downgrade():
    with op.batch_alter_table('user_avatars', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_avatars_image_hash'))

    op.drop_table('user_avatars')
    with op.batch_alter_table('recipe_covers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recipe_covers_image_hash'))

    op.drop_table('recipe_covers')
    op.drop_table('images')
