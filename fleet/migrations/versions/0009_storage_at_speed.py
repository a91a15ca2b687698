"""Storage at speed: hourly and daily reading rollups (filled from the stored readings),
readings indexed by (device, time) without a per-row foreign key, detections by time.

Revision ID: 0009_storage_at_speed
Revises: 0004
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa


revision = '0009_storage_at_speed'
down_revision = '0008_dashboard'
branch_labels = None
depends_on = None

_ROLLUPS = {'reading_hourly': 3600, 'reading_daily': 86400}
#: Bucket starts are clipped to 1970..9999 like the readings API's buckets (fleet/telemetry/queries.py).
_HIGH = 253402300799
#: SQLite's unnamed foreign key on reading.device_id, named for batch mode.
_NAMING = {'fk': 'fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s'}


def _bucket(dialect: str, width: int) -> str:
    if dialect == 'postgresql':
        epoch = f'greatest(least(floor(extract(epoch from ts))::bigint, {_HIGH}), 0)'
        return f'to_timestamp(({epoch} / {width}) * {width})'
    epoch = (f"max(min(coalesce(cast(strftime('%s', substr(ts, 1, 19)) as integer), 0), "
             f"{_HIGH}), 0)")
    return f"strftime('%Y-%m-%d %H:%M:%S.000000', ({epoch} / {width}) * {width}, 'unixepoch')"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for name, width in _ROLLUPS.items():
        op.create_table(name,
        sa.Column('device_id', sa.String(length=64), nullable=False),
        sa.Column('sensor', sa.String(length=64), nullable=False),
        sa.Column('quantity', sa.String(length=64), nullable=False),
        sa.Column('bucket', sa.DateTime(timezone=True), nullable=False),
        sa.Column('count', sa.BigInteger(), nullable=False),
        sa.Column('sum', sa.Float(), nullable=True),
        sa.Column('min', sa.Float(), nullable=False),
        sa.Column('max', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('device_id', 'sensor', 'quantity', 'bucket')
        )
        op.execute(
            f'INSERT INTO {name} (device_id, sensor, quantity, bucket, count, sum, min, max) '
            f'SELECT device_id, sensor, quantity, {_bucket(dialect, width)}, count(*), '
            'sum(value), min(value), max(value) FROM reading '
            f'GROUP BY device_id, sensor, quantity, {_bucket(dialect, width)}'
        )
    op.create_index('ix_reading_device_ts', 'reading', ['device_id', 'ts'], unique=False)
    op.drop_index('ix_reading_series', table_name='reading')
    op.create_index('ix_detection_ts', 'detection', ['ts'], unique=False)
    if dialect == 'sqlite':
        with op.batch_alter_table('reading', naming_convention=_NAMING) as batch:
            batch.drop_constraint('fk_reading_device_id_device', type_='foreignkey')
    else:
        op.drop_constraint('reading_device_id_fkey', 'reading', type_='foreignkey')


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == 'sqlite':
        with op.batch_alter_table('reading') as batch:
            batch.create_foreign_key('fk_reading_device_id_device', 'device', ['device_id'],
                                     ['id'])
    else:
        op.create_foreign_key('reading_device_id_fkey', 'reading', 'device', ['device_id'],
                              ['id'])
    op.drop_index('ix_detection_ts', table_name='detection')
    op.create_index('ix_reading_series', 'reading', ['device_id', 'sensor', 'quantity', 'ts'],
                    unique=False)
    op.drop_index('ix_reading_device_ts', table_name='reading')
    for name in _ROLLUPS:
        op.drop_table(name)
