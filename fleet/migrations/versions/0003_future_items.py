"""Items dated further ahead of the fleet's clock than the tolerance are flagged future.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 20:18:32.963768
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

_ITEM_TABLES = ('reading', 'detection', 'event', 'modelupdate')


def upgrade() -> None:
    for table in _ITEM_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column('future', sa.Boolean(), server_default=sa.false(), nullable=False)
            )


def downgrade() -> None:
    for table in reversed(_ITEM_TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('future')
