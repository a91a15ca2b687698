"""Readings partitioned by month on PostgreSQL: ``reading`` becomes PARTITIONED BY RANGE (ts),
one partition per UTC month (``reading_p2026_12``) and ``reading_default`` for the rest.

PostgreSQL wants the partition key in every unique constraint: the primary key becomes (id, ts)
and ``uq_reading_item`` (device_id, boot_id, seq, ts); the writer keeps (device, boot, seq)
unique itself (fleet/telemetry/store.py). Existing rows are moved with their ids, and ``reading_id_seq``
goes on numbering. Monthly partitions are made from the month of the first reading the fleet
stored to three months ahead; readings dated outside them go to ``reading_default``. SQLite
keeps its plain table.

Revision ID: 0010_reading_partitions
Revises: 0009_storage_at_speed
Create Date: 2026-12-02
"""

from datetime import UTC, datetime

from alembic import op
import sqlalchemy as sa


revision = '0010_reading_partitions'
down_revision = '0009_storage_at_speed'
branch_labels = None
depends_on = None

#: Months after the current one given a partition now (fleet/telemetry/partitions.py keeps it so).
_AHEAD = 3
_COLUMNS = ('device_id, boot_id, seq, ts, uptime_s, clock_synced, sensor, quantity, value, '
            'unit, id, stored_at, future')
#: reading's columns in the order PostgreSQL has them since 0003 (pg_dump's column lists).
_TABLE = """
    device_id varchar(64) NOT NULL,
    boot_id varchar(64) NOT NULL,
    seq bigint NOT NULL,
    ts timestamptz NOT NULL,
    uptime_s double precision NOT NULL,
    clock_synced boolean NOT NULL,
    sensor varchar(64) NOT NULL,
    quantity varchar(64) NOT NULL,
    value double precision NOT NULL,
    unit varchar(32) NOT NULL,
    id bigint NOT NULL DEFAULT nextval('reading_id_seq'::regclass),
    stored_at timestamptz NOT NULL,
    future boolean NOT NULL DEFAULT false
"""


def _month(ts: datetime) -> datetime:
    return datetime(ts.year, ts.month, 1, tzinfo=UTC)


def _next(month: datetime) -> datetime:
    return datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=UTC)


def _months(first: datetime, last: datetime) -> list[datetime]:
    out, month = [], _month(first)
    while month <= last:
        out.append(month)
        month = _next(month)
    return out


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != 'postgresql':
        return
    now = _month(datetime.now(UTC))
    last = now
    for _ in range(_AHEAD):
        last = _next(last)
    first_stored = bind.execute(sa.text('SELECT min(stored_at) FROM reading')).scalar()
    first = min(_month(first_stored), now) if first_stored is not None else now
    op.execute('ALTER SEQUENCE reading_id_seq OWNED BY NONE')
    op.execute('ALTER TABLE reading RENAME TO reading_plain')
    op.execute('ALTER TABLE reading_plain RENAME CONSTRAINT reading_pkey TO reading_plain_pkey')
    op.execute('ALTER TABLE reading_plain RENAME CONSTRAINT uq_reading_item '
               'TO uq_reading_plain_item')
    op.execute('ALTER INDEX ix_reading_device_ts RENAME TO ix_reading_plain_device_ts')
    op.execute(f'CREATE TABLE reading ({_TABLE}) PARTITION BY RANGE (ts)')
    op.execute('ALTER SEQUENCE reading_id_seq OWNED BY reading.id')
    for month in _months(first, last):
        op.execute(
            f'CREATE TABLE reading_p{month:%Y_%m} PARTITION OF reading '
            f"FOR VALUES FROM ('{month.isoformat()}') TO ('{_next(month).isoformat()}')"
        )
    op.execute('CREATE TABLE reading_default PARTITION OF reading DEFAULT')
    op.execute(f'INSERT INTO reading ({_COLUMNS}) SELECT {_COLUMNS} FROM reading_plain')
    op.execute('DROP TABLE reading_plain')
    # Indexes after the rows: built once per partition rather than row by row.
    op.execute('ALTER TABLE reading ADD CONSTRAINT reading_pkey PRIMARY KEY (id, ts)')
    op.execute('ALTER TABLE reading ADD CONSTRAINT uq_reading_item '
               'UNIQUE (device_id, boot_id, seq, ts)')
    op.execute('CREATE INDEX ix_reading_device_ts ON reading (device_id, ts)')
    op.execute('ANALYZE reading')  # autovacuum never analyses a partitioned parent


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != 'postgresql':
        return
    op.execute('ALTER SEQUENCE reading_id_seq OWNED BY NONE')
    op.execute('ALTER TABLE reading RENAME TO reading_partitioned')
    op.execute('ALTER TABLE reading_partitioned RENAME CONSTRAINT reading_pkey '
               'TO reading_partitioned_pkey')
    op.execute('ALTER TABLE reading_partitioned RENAME CONSTRAINT uq_reading_item '
               'TO uq_reading_partitioned_item')
    op.execute('ALTER INDEX ix_reading_device_ts RENAME TO ix_reading_partitioned_device_ts')
    op.execute(f'CREATE TABLE reading ({_TABLE})')
    op.execute('ALTER SEQUENCE reading_id_seq OWNED BY reading.id')
    op.execute(f'INSERT INTO reading ({_COLUMNS}) '
               f'SELECT {_COLUMNS} FROM reading_partitioned')
    op.execute('DROP TABLE reading_partitioned')  # and every partition with it
    op.execute('ALTER TABLE reading ADD CONSTRAINT reading_pkey PRIMARY KEY (id)')
    op.execute('ALTER TABLE reading ADD CONSTRAINT uq_reading_item '
               'UNIQUE (device_id, boot_id, seq)')
    op.execute('CREATE INDEX ix_reading_device_ts ON reading (device_id, ts)')
