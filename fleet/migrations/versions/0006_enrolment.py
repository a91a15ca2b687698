"""Enrolment codes, device credential hashes, Device.revoked_at.

Revision ID: 0006_enrolment
Revises: 0004
Create Date: 2026-12-01 23:30:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0006_enrolment'
down_revision = '0005_farms_users'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('enrolmentcode',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code_hash')
    )
    with op.batch_alter_table('enrolmentcode', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enrolmentcode_device_id'), ['device_id'], unique=False)

    op.create_table('devicecredential',
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('secret_sha256', sa.String(length=64), nullable=False),
    sa.Column('enrolled_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], ),
    sa.PrimaryKeyConstraint('device_id'),
    sa.UniqueConstraint('secret_sha256')
    )
    with op.batch_alter_table('device', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('device', schema=None) as batch_op:
        batch_op.drop_column('revoked_at')
    op.drop_table('devicecredential')
    with op.batch_alter_table('enrolmentcode', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enrolmentcode_device_id'))
    op.drop_table('enrolmentcode')
