"""users, recipes, tags, revoked tokens

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 21:54:11.554348

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('revoked_tokens',
    sa.Column('jti', sa.String(length=36), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('jti', name=op.f('pk_revoked_tokens'))
    )
    with op.batch_alter_table('revoked_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_revoked_tokens_expires_at'), ['expires_at'], unique=False)

    op.create_table('tags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=30), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tags')),
    sa.UniqueConstraint('name', name=op.f('uq_tags_name'))
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=30), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('display_name', sa.String(length=80), nullable=False),
    sa.Column('bio', sa.String(length=500), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email'))
    )
    # Usernames are unique whatever their case.
    op.create_index('uq_users_username_lower', 'users', [sa.text('lower(username)')], unique=True)
    op.create_table('recipes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('num_of_servings', sa.Integer(), nullable=False),
    sa.Column('cook_time', sa.Integer(), nullable=True),
    sa.Column('prep_time', sa.Integer(), nullable=True),
    sa.Column('ingredients', sa.JSON(), nullable=False),
    sa.Column('directions', sa.JSON(), nullable=False),
    sa.Column('source_url', sa.String(length=2048), nullable=True),
    sa.Column('is_publish', sa.Boolean(), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('cook_time IS NULL OR cook_time BETWEEN 1 AND 1440', name=op.f('ck_recipes_cook_time_range')),
    sa.CheckConstraint('num_of_servings BETWEEN 1 AND 50', name=op.f('ck_recipes_servings_range')),
    sa.CheckConstraint('prep_time IS NULL OR prep_time BETWEEN 1 AND 1440', name=op.f('ck_recipes_prep_time_range')),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_recipes_author_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recipes'))
    )
    with op.batch_alter_table('recipes', schema=None) as batch_op:
        batch_op.create_index('ix_recipes_author_created', ['author_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_recipes_public_cook_time', ['is_publish', 'cook_time', 'id'], unique=False)
        batch_op.create_index('ix_recipes_public_created', ['is_publish', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_recipes_public_name', ['is_publish', 'name', 'id'], unique=False)
        batch_op.create_index('ix_recipes_public_servings', ['is_publish', 'num_of_servings', 'id'], unique=False)
        batch_op.create_index('ix_recipes_public_updated', ['is_publish', 'updated_at', 'id'], unique=False)

    op.create_table('recipe_tags',
    sa.Column('recipe_id', sa.Integer(), nullable=False),
    sa.Column('tag_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['recipe_id'], ['recipes.id'], name=op.f('fk_recipe_tags_recipe_id_recipes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tag_id'], ['tags.id'], name=op.f('fk_recipe_tags_tag_id_tags'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('recipe_id', 'tag_id', name=op.f('pk_recipe_tags'))
    )
    with op.batch_alter_table('recipe_tags', schema=None) as batch_op:
        batch_op.create_index('ix_recipe_tags_tag_id_recipe_id', ['tag_id', 'recipe_id'], unique=False)



def downgrade():
    with op.batch_alter_table('recipe_tags', schema=None) as batch_op:
        batch_op.drop_index('ix_recipe_tags_tag_id_recipe_id')

    op.drop_table('recipe_tags')
    with op.batch_alter_table('recipes', schema=None) as batch_op:
        batch_op.drop_index('ix_recipes_public_updated')
        batch_op.drop_index('ix_recipes_public_servings')
        batch_op.drop_index('ix_recipes_public_name')
        batch_op.drop_index('ix_recipes_public_created')
        batch_op.drop_index('ix_recipes_public_cook_time')
        batch_op.drop_index('ix_recipes_author_created')

    op.drop_table('recipes')
    op.drop_index('uq_users_username_lower', table_name='users')
    op.drop_table('users')
    op.drop_table('tags')
    with op.batch_alter_table('revoked_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_revoked_tokens_expires_at'))

    op.drop_table('revoked_tokens')
