"""Disease risk: a field's own parameters per risk model (fleet/risk/tables.py).

Revision ID: 0011_risk_parameters
Revises: 0010_reading_partitions
Create Date: 2026-12-07
"""

from alembic import op
import sqlalchemy as sa


revision = '0011_risk_parameters'
down_revision = '0010_reading_partitions'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('field_risk_parameters',
    sa.Column('field_id', sa.Integer(), nullable=False),
    sa.Column('model', sa.String(length=32), nullable=False),
    sa.Column('parameters', sa.JSON(), nullable=False),
    sa.Column('updated_by', sa.String(length=160), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['field_id'], ['field.id'], ),
    sa.PrimaryKeyConstraint('field_id', 'model')
    )


def downgrade() -> None:
    op.drop_table('field_risk_parameters')
