"""Retention specifies: with AGRIFLEET_RETENTION_DAYS set, raw readings dated further back are
deleted (in batches, by the fleet itself once it runs) and newer ones kept, as are the hourly
and daily rollups; unset, nothing is deleted; zero or a negative number of days is refused. On
PostgreSQL the partitions of months wholly before the cutoff are dropped, and what is left older
(the cutoff's month, reading_default) deleted in batches; the same thread makes the coming
months' partitions, retention set or not."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from agrifleet.fleet.farmdata import retention
from agrifleet.fleet.settings import FleetSettings
from agrifleet.fleet.telemetry import partitions
from agrifleet.fleet.telemetry.writer import Incoming, Writer
from tests.fleet.conftest import FleetUnderTest, running_fleet
from tests.fleet.device import batch, reading
from tests.fleet.telemetry.storage.helpers import (
    fresh_engine,
    register,
    store,
    stored_rollups,
    where_stored,
)
from tests.services import Postgres

READINGS = "/api/v1/devices/field-a/readings"


def _store_ages(app: object, days_ago: list[int]) -> datetime:
    now = datetime.now(UTC).replace(microsecond=0)
    items = [reading(s, value=float(s), ts=now - timedelta(days=d, minutes=s))
             for s, d in enumerate(days_ago)]  # fmt: skip
    writer = Writer(app.state.engine, app.state.metrics, "agrifleet",  # type: ignore[attr-defined]
                    lambda _dev, _ack: None)  # fmt: skip
    writer.write([Incoming("agrifleet/field-a/messages", batch("field-a", "b1", items))])
    return now


def test_old_readings_go_in_batches_newer_ones_and_rollups_stay(api: FleetUnderTest) -> None:
    api.register("field-a")
    now = _store_ages(api.app, [400, 100, 31, 29, 1, 0, 400, 100])
    engine = api.app.state.engine
    days = stored_rollups(engine, 86400)
    assert retention.prune(engine, 30, now=now, batch=2).deleted == 5
    assert sorted(r["seq"] for r in api.get(READINGS)) == [3, 4, 5]
    assert stored_rollups(engine, 86400) == days  # the season chart keeps last year
    assert sum(b["count"] for b in api.get(READINGS, bucket=86400)) == 8
    assert retention.prune(engine, 30, now=now) == retention.Pruned()


def test_the_fleet_thread_deletes_what_is_old_at_start(database_url: str) -> None:
    with running_fleet(FleetSettings(database_url=database_url)) as fleet:
        fleet.register("field-a")
        _store_ages(fleet.app, [90, 2])
        assert len(fleet.get(READINGS)) == 2  # unset: everything kept
    with running_fleet(FleetSettings(database_url=database_url, retention_days=30)) as fleet:
        deadline = time.monotonic() + 30
        while len(fleet.get(READINGS)) != 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [r["seq"] for r in fleet.get(READINGS)] == [1]


@pytest.mark.parametrize("days", ["0", "-3", "soon"])
def test_a_retention_of_no_days_is_refused(days: str, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("AGRIFLEET_RETENTION_DAYS", days)
    with pytest.raises(ValidationError, match="retention_days"):
        FleetSettings(database_url=f"sqlite:///{tmp_path / 'f.db'}")


@pytest.mark.postgres
def test_on_postgresql_old_months_partitions_are_dropped_and_the_rest_deleted(
    postgres: Postgres,
) -> None:
    engine = fresh_engine(postgres.create_database())
    try:
        register(engine, "field-a")
        now = partitions.month_of(datetime.now(UTC)) + timedelta(days=14)
        cutoff = now - timedelta(days=30)
        first = partitions.month_of(now - timedelta(days=400))
        partitions.ensure(engine, first, ahead=16)  # as a fleet running for a year made them
        ages = [400, 100, 31, 29, 1, 0]
        store(engine, "field-a", [
            *(reading(s, value=float(s), ts=now - timedelta(days=d)) for s, d in enumerate(ages)),
            reading(6, ts=datetime(1970, 1, 1, tzinfo=UTC)) | {"clock_synced": False},
            reading(7, ts=datetime(2099, 1, 1, tzinfo=UTC)),
        ])  # fmt: skip
        days = stored_rollups(engine, 86400)
        old, month = [], first
        while partitions.next_month(month) <= cutoff:
            old.append(partitions.partition_name(month))
            month = partitions.next_month(month)
        # Seq 2, 31 days old, is in the month the cutoff falls in; seq 6 in reading_default.
        assert retention.prune(engine, 30, now=now, batch=1) == retention.Pruned(old, 2)
        assert sorted(where_stored(engine, "field-a")) == [3, 4, 5, 7]
        with engine.connect() as conn:
            assert not set(old) & set(partitions.monthly(conn).values())
        assert stored_rollups(engine, 86400) == days
        assert retention.prune(engine, 30, now=now) == retention.Pruned()
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_on_postgresql_the_thread_makes_the_coming_partitions_retention_set_or_not(
    postgres: Postgres,
) -> None:
    engine = fresh_engine(postgres.create_database())
    try:
        last = partitions.month_of(datetime.now(UTC))
        for _ in range(partitions.AHEAD):
            last = partitions.next_month(last)
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TABLE {partitions.partition_name(last)}")
        assert retention.needed(engine, None)
        assert retention.Pruner(engine, None).run_once() == retention.Pruned()
        with engine.connect() as conn:
            assert partitions.partition_name(last) in partitions.monthly(conn).values()
    finally:
        engine.dispose()
