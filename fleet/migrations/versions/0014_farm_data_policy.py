"""Each farm's data policy: retention days for readings, photos and alerts, and consent to
train models on its confirmed photos (who, when).

Revision ID: 0014_farm_data_policy
Revises: 0013_alert_delivery
Create Date: 2026-12-07
"""

from alembic import op
import sqlalchemy as sa


revision = '0014_farm_data_policy'
down_revision = '0013_alert_delivery'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('farmdatapolicy',
    sa.Column('farm_id', sa.Integer(), nullable=False),
    sa.Column('readings_days', sa.Integer(), nullable=True),
    sa.Column('photos_days', sa.Integer(), nullable=True),
    sa.Column('alerts_days', sa.Integer(), nullable=True),
    sa.Column('training_consent', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('consent_by', sa.String(length=300), nullable=True),
    sa.Column('consent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_by', sa.String(length=300), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['farm_id'], ['farm.id'], ),
    sa.PrimaryKeyConstraint('farm_id')
    )


def downgrade() -> None:
    op.drop_table('farmdatapolicy')
