"""Partitions specify: on PostgreSQL each reading is stored in the partition of its UTC month,
or in reading_default when no month's partition holds its time (a clock far off); the upkeep
makes this month's and the next three months' partitions, and nothing more when it runs again
or in two processes at once; a month whose readings already wait in reading_default gets its
partition all the same, with those readings moved into it under their ids; a writer starting
while the database is away says so and starts. SQLite has one plain table and nothing to
partition."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from agrifleet.fleet.db import make_engine
from agrifleet.fleet.telemetry import partitions
from agrifleet.fleet.telemetry.partitions import month_of, next_month, partition_name
from tests.fleet.device import reading
from tests.fleet.telemetry.storage.helpers import (
    assert_rollups_match_raw,
    fresh_engine,
    register,
    store,
    where_stored,
)
from tests.services import Postgres, free_port


@pytest.fixture
def engine(postgres: Postgres) -> Iterator[Engine]:
    engine = fresh_engine(postgres.create_database())
    register(engine, "field-a")
    yield engine
    engine.dispose()


def months_from(first: datetime, n: int) -> list[datetime]:
    out = [month_of(first)]
    while len(out) < n:
        out.append(next_month(out[-1]))
    return out


def monthly(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(partitions.monthly(conn).values())


@pytest.mark.postgres
def test_a_reading_is_stored_in_its_month_s_partition_or_the_default_one(engine: Engine) -> None:
    this, following, *_, last = months_from(datetime.now(UTC), 1 + partitions.AHEAD)
    items = [
        reading(0, ts=this + timedelta(days=1)),
        reading(1, ts=next_month(this) - timedelta(microseconds=1)),
        reading(2, ts=following),  # a month begins at its first microsecond
        reading(3, ts=last + timedelta(days=27)),
        reading(4, ts=next_month(last)),  # beyond the partitions made ahead
        reading(5, ts=datetime(1970, 1, 1, 0, 5, tzinfo=UTC)) | {"clock_synced": False},
        reading(6, ts=datetime(2099, 1, 1, tzinfo=UTC)),  # a clock far ahead: kept, flagged
    ]
    assert store(engine, "field-a", items).ranges == [(0, 6)]
    assert where_stored(engine, "field-a") == {
        0: [partition_name(this)], 1: [partition_name(this)], 2: [partition_name(following)],
        3: [partition_name(last)], 4: ["reading_default"], 5: ["reading_default"],
        6: ["reading_default"],
    }  # fmt: skip
    assert_rollups_match_raw(engine)


@pytest.mark.postgres
def test_the_upkeep_makes_the_coming_months_once(engine: Engine) -> None:
    now = datetime.now(UTC)
    made_by_migration = [partition_name(m) for m in months_from(now, 1 + partitions.AHEAD)]
    assert monthly(engine) == made_by_migration
    assert partitions.ensure(engine, now) == []
    later = next_month(next_month(month_of(now)))
    assert partitions.ensure(engine, later) == [
        partition_name(m) for m in months_from(later, 1 + partitions.AHEAD)[-2:]
    ]
    assert partitions.ensure(engine, later) == []
    assert monthly(engine) == [partition_name(m) for m in months_from(now, 3 + partitions.AHEAD)]


@pytest.mark.postgres
def test_two_processes_running_the_upkeep_at_once_make_each_month_once(engine: Engine) -> None:
    later = month_of(datetime.now(UTC)) + timedelta(days=400)
    made: list[list[str]] = []
    start = threading.Barrier(2)

    def upkeep() -> None:
        start.wait()
        made.append(partitions.ensure(engine, later))

    threads = [threading.Thread(target=upkeep) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    expected = [partition_name(m) for m in months_from(later, 1 + partitions.AHEAD)]
    assert sorted(made[0] + made[1]) == expected
    assert set(expected) <= set(monthly(engine))


@pytest.mark.postgres
def test_readings_waiting_in_the_default_partition_move_into_their_month_s(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    ahead = months_from(datetime.now(UTC), 3 + partitions.AHEAD)[-1]  # two months past the last
    items = [reading(s, value=float(s), ts=ahead + timedelta(days=s)) for s in range(3)]
    store(engine, "field-a", [*items, reading(3, ts=next_month(ahead))])
    assert where_stored(engine, "field-a") == {s: ["reading_default"] for s in range(4)}
    with engine.connect() as conn:
        ids = {seq: id_ for seq, id_ in conn.execute(text("SELECT seq, id FROM reading"))}
    with caplog.at_level("WARNING", logger="agrifleet.fleet.telemetry.partitions"):
        made = partitions.ensure(engine, months_from(datetime.now(UTC), 3)[-1])
    assert partition_name(ahead) in made
    assert any("moved into it 3 readings" in r.getMessage() for r in caplog.records)
    assert where_stored(engine, "field-a") == {
        0: [partition_name(ahead)], 1: [partition_name(ahead)], 2: [partition_name(ahead)],
        3: ["reading_default"],
    }  # fmt: skip
    with engine.connect() as conn:
        assert {seq: id_ for seq, id_ in conn.execute(text("SELECT seq, id FROM reading"))} == ids
    # Moved, they are still the stored copies: sent again, nothing is stored twice.
    assert store(engine, "field-a", items).ranges == [(0, 2)]
    assert where_stored(engine, "field-a")[0] == [partition_name(ahead)]
    assert_rollups_match_raw(engine)


def test_on_sqlite_there_is_nothing_to_partition(tmp_path: Path) -> None:
    engine = fresh_engine(f"sqlite:///{tmp_path}/fleet.db")
    try:
        assert partitions.ensure(engine) == []
        assert partitions.drop_before(engine, datetime.now(UTC)) == []
        with engine.connect() as conn:
            assert not partitions.partitioned(conn)
            kinds = conn.execute(text("SELECT type FROM sqlite_master WHERE name = 'reading'"))
            assert kinds.scalars().all() == ["table"]
    finally:
        engine.dispose()


def test_a_writer_starting_while_postgresql_is_away_starts_all_the_same(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/fleet")
    try:
        with caplog.at_level("WARNING", logger="agrifleet.fleet.telemetry.partitions"):
            partitions.prepare(engine)
        (logged,) = [r.getMessage() for r in caplog.records]
        assert "OperationalError" in logged and "reading_default" in logged
    finally:
        engine.dispose()
