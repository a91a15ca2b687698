"""People's verdicts on scouting observations (confirmed, or rejected with the right class).

Revision ID: 0015_observation_verdicts
Revises: 0014_farm_data_policy
Create Date: 2026-12-07
"""

from alembic import op
import sqlalchemy as sa


revision = '0015_observation_verdicts'
down_revision = '0014_farm_data_policy'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('observationverdict',
    sa.Column('observation_id', sa.BigInteger(), nullable=False),
    sa.Column('verdict', sa.String(length=16), nullable=False),
    sa.Column('label', sa.String(length=128), nullable=True),
    sa.Column('model_name', sa.String(length=128), nullable=False),
    sa.Column('model_version', sa.String(length=64), nullable=False),
    sa.Column('given_by', sa.String(length=160), nullable=False),
    sa.Column('given_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['observation_id'], ['observation.id'], ),
    sa.PrimaryKeyConstraint('observation_id')
    )


def downgrade() -> None:
    op.drop_table('observationverdict')
