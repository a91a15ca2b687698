"""Detections name the crop and the disease on their own, each with a confidence.

Nullable columns: detections stored before, and those of nodes that do not send the parts, keep
nulls. Works on a table already holding rows (SQLite and PostgreSQL).

Revision ID: 0007_detection_parts
Revises: 0004
Create Date: 2026-12-01 23:40:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0007_detection_parts'
down_revision = '0006_enrolment'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('detection', schema=None) as batch_op:
        batch_op.add_column(sa.Column('crop', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('crop_confidence', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('crop_uncertain', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('disease', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('disease_confidence', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('disease_uncertain', sa.Boolean(), nullable=True))
        batch_op.create_index('ix_detection_disease_ts', ['disease', 'ts'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('detection', schema=None) as batch_op:
        batch_op.drop_index('ix_detection_disease_ts')
        batch_op.drop_column('disease_uncertain')
        batch_op.drop_column('disease_confidence')
        batch_op.drop_column('disease')
        batch_op.drop_column('crop_uncertain')
        batch_op.drop_column('crop_confidence')
        batch_op.drop_column('crop')
