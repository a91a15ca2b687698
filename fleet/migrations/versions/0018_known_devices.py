"""Known devices: browsers that signed in as a person (device cookies) are not held by the
account's or the address's failed sign-ins.

Revision ID: 0018_known_devices
Revises: 0017_invitations
Create Date: 2026-12-07 16:40:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0018_known_devices'
down_revision = '0017_invitations'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('knowndevice',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('knowndevice', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_knowndevice_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('knowndevice', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_knowndevice_user_id'))
    op.drop_table('knowndevice')
