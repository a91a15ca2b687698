"""Migration 0010 specifies: on PostgreSQL the readings table becomes partitioned by month, one
partition per month from the month of the first reading stored to three months ahead and
reading_default for every other time, each reading kept under its id and in its month's
partition, the id sequence going on from there; downgrading gives the plain table back with every
reading. On SQLite the schema stays as it was."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text

from agrifleet.fleet.db import make_engine
from agrifleet.fleet.migrate import alembic_config, upgrade
from agrifleet.fleet.telemetry import partitions, rollups
from agrifleet.fleet.telemetry.partitions import month_of, next_month, partition_name
from tests.fleet.device import reading
from tests.fleet.telemetry.storage.helpers import assert_rollups_match_raw, store, where_stored
from tests.services import Postgres

BEFORE = "0009_storage_at_speed"
FORMAT = "%Y-%m-%d %H:%M:%S.%f"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def _fill_at_0009(engine: Engine, now: datetime) -> None:
    """A device and readings stored over the last 100 days, two of them from odd clocks."""
    upgrade(engine, BEFORE)
    mark = "?" if engine.dialect.name == "sqlite" else "%s"
    rows = []
    for s in range(200):
        at = (now - timedelta(days=100 - s / 2)).strftime(FORMAT)
        rows.append(("old-1", "b0", s, at, float(s), True, float(s % 7), at))
    stored_at = now.strftime(FORMAT)
    rows.append(("old-1", "b0", 200, "1970-01-01 00:05:00.000000", 200.0, False, 1.0, stored_at))
    rows.append(("old-1", "b0", 201, "2099-01-01 00:00:00.000000", 201.0, True, 2.0, stored_at))
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO device (id, name, created_at, online, tags, farm_id) "
            "VALUES ('old-1', '', '2026-01-01 00:00:00', false, '[]', 1)"
        ))  # fmt: skip
        conn.exec_driver_sql(
            "INSERT INTO reading (device_id, boot_id, seq, ts, uptime_s, clock_synced, value, "  # noqa: S608
            "stored_at, sensor, quantity, unit) "
            f"VALUES ({', '.join([mark] * 11)})",
            [(*row, "soil", "moisture", "%") for row in rows],
        )
        rollups.rebuild(conn)  # as for readings put in by hand


def _readings(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT id, device_id, boot_id, seq, ts, clock_synced, value, stored_at FROM reading "
            "ORDER BY id"
        ))]  # fmt: skip


def _schema(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(
            "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'reading' ORDER BY name"
        )))  # fmt: skip


def test_0010_keeps_every_reading_and_partitions_them_on_postgresql_only(engine: Engine) -> None:
    now = datetime.now(UTC)
    _fill_at_0009(engine, now)
    before = _readings(engine)
    schema = _schema(engine) if engine.dialect.name == "sqlite" else None
    upgrade(engine)
    assert _readings(engine) == before
    if engine.dialect.name == "sqlite":
        assert _schema(engine) == schema
    else:
        months, month = [month_of(now - timedelta(days=100))], month_of(now)
        for _ in range(partitions.AHEAD):
            month = next_month(month)
        while months[-1] < month:
            months.append(next_month(months[-1]))
        with engine.connect() as conn:
            assert partitions.partitioned(conn)
            assert sorted(partitions.monthly(conn)) == months
        stored = where_stored(engine, "old-1")
        for _id, _dev, _boot, seq, ts, *_ in before:
            home = partition_name(month_of(ts)) if month_of(ts) in months else partitions.DEFAULT
            assert stored[seq] == [home], seq
    # The writer goes on: a new reading gets a new id, a resent one is not stored again.
    resent = reading(201, value=2.0, ts=datetime(2099, 1, 1, tzinfo=UTC))
    assert not store(engine, "old-1", [resent, reading(202)], boot="b0").rejected
    after = _readings(engine)
    assert after[:-1] == before and after[-1][0] > before[-1][0] and after[-1][3] == 202
    assert_rollups_match_raw(engine)


@pytest.mark.postgres
def test_0010_downgrades_to_a_plain_table_with_every_reading(postgres: Postgres) -> None:
    engine = make_engine(postgres.create_database())
    try:
        _fill_at_0009(engine, datetime.now(UTC))
        before = _readings(engine)
        upgrade(engine)
        command.downgrade(alembic_config(engine), BEFORE)
        assert _readings(engine) == before
        with engine.connect() as conn:
            assert not partitions.partitioned(conn)
            tables = conn.execute(text("SELECT relname FROM pg_class WHERE relkind = 'r'"))
            assert not [t for t in tables.scalars() if partitions.is_partition(t)]
        found = inspect(engine)
        assert found.get_pk_constraint("reading")["constrained_columns"] == ["id"]
        assert [u["column_names"] for u in found.get_unique_constraints("reading")] == [
            ["device_id", "boot_id", "seq"]
        ]
        upgrade(engine)  # and up again
        with engine.connect() as conn:
            assert partitions.partitioned(conn)
        assert _readings(engine) == before
    finally:
        engine.dispose()
