"""Personal tokens remember the token they were made with (it dies with its parent).

Revision ID: 0016_token_parents
Revises: 0015_observation_verdicts
Create Date: 2026-12-07 16:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0016_token_parents'
down_revision = '0015_observation_verdicts'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('usertoken', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parent_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_usertoken_parent_id'), ['parent_id'], unique=False)
        batch_op.create_foreign_key('fk_usertoken_parent_id', 'usertoken', ['parent_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('usertoken', schema=None) as batch_op:
        batch_op.drop_constraint('fk_usertoken_parent_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_usertoken_parent_id'))
        batch_op.drop_column('parent_id')
