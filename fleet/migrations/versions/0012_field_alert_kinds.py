"""Alert rule kinds risk and disease_spread: the rule's field, risk model and level, and the
number of nodes or photos within a window (fleet/alerts/rules.py); ``critical`` rules reach
people in their quiet hours.

Revision ID: 0012_field_alert_kinds
Revises: 0011_risk_parameters
Create Date: 2026-12-07
"""

from alembic import op
import sqlalchemy as sa


revision = '0012_field_alert_kinds'
down_revision = '0011_risk_parameters'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('alertrule', schema=None) as batch_op:
        batch_op.add_column(sa.Column('field_id', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('model', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('min_risk', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('min_nodes', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('window_s', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('critical', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('alertrule', schema=None) as batch_op:
        batch_op.drop_column('critical')
        batch_op.drop_column('window_s')
        batch_op.drop_column('min_nodes')
        batch_op.drop_column('min_risk')
        batch_op.drop_column('model')
        batch_op.drop_column('field_id')
