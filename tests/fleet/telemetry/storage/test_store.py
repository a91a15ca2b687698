"""The store specifies: a reading's (device, boot, seq) is stored once, however often and by
however many workers its batch is delivered, also on PostgreSQL's partitioned readings, where a
clock correction moves the stored reading to another month's partition and a late redelivery of
the batch from before the correction carries the old time: the redelivered copy is stored
nowhere; two transactions storing the same items at once store them once, the second one waiting
for the first; and seqs below a boot's highest (a gap filled late) are still stored when new."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text

from agrifleet.fleet.telemetry.partitions import month_of, partition_name
from agrifleet.fleet.telemetry.store import Store
from tests.fleet.device import reading
from tests.fleet.telemetry.storage.helpers import (
    assert_rollups_match_raw,
    fresh_engine,
    register,
    store,
    where_stored,
)

EPOCH = datetime(1970, 1, 1, 0, 5, tzinfo=UTC)  # a node without a real-time clock, just up


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = fresh_engine(database_url)
    register(engine, "field-a")
    yield engine
    engine.dispose()


def this_month(days: float = 1.0) -> datetime:
    """A time in the current month, which has its partition on PostgreSQL."""
    return month_of(datetime.now(UTC)) + timedelta(days=days)


def test_a_redelivery_from_before_a_clock_correction_stores_nothing_twice(engine: Engine) -> None:
    unsynced = [reading(s, ts=EPOCH + timedelta(seconds=s)) | {"clock_synced": False}
                for s in range(3)]  # fmt: skip
    corrected = [reading(s, ts=this_month() + timedelta(seconds=s)) for s in range(3)]
    assert store(engine, "field-a", unsynced).ranges == [(0, 2)]
    assert store(engine, "field-a", corrected).ranges == [(0, 2)]  # the times are corrected
    # The first batch again, as a crashed worker's session delivers it after its restart.
    ack = store(engine, "field-a", unsynced)
    assert ack.ranges == [(0, 2)] and not ack.rejected
    home = "reading" if engine.dialect.name == "sqlite" else partition_name(month_of(this_month()))
    assert where_stored(engine, "field-a") == {s: [home] for s in range(3)}
    with engine.connect() as conn:
        synced = conn.execute(text("SELECT count(*) FROM reading WHERE clock_synced")).scalar()
    assert synced == 3
    assert_rollups_match_raw(engine)


def test_a_gap_filled_late_is_stored_and_its_resent_neighbours_are_not(engine: Engine) -> None:
    at = this_month()
    store(engine, "field-a", [reading(s, ts=at + timedelta(seconds=s)) for s in (0, 1, 5)])
    late = [reading(s, ts=at + timedelta(seconds=s)) for s in range(7)]
    assert store(engine, "field-a", late).ranges == [(0, 6)]
    assert sorted(where_stored(engine, "field-a")) == list(range(7))
    assert all(len(tables) == 1 for tables in where_stored(engine, "field-a").values())
    assert_rollups_match_raw(engine)


def _row(seq: int, ts: datetime, synced: bool) -> tuple[Any, ...]:
    """A reading as the writer hands it to the store (READING_COLUMNS order)."""
    return ("field-a", "b1", seq, ts, float(seq), synced, False, "soil", "moisture", 21.5, "%",
            datetime.now(UTC))  # fmt: skip


def _waiting_for_a_lock(engine: Engine, timeout: float = 30.0) -> bool:
    """Whether another session of this database is (or within ``timeout`` gets) blocked."""
    deadline = time.monotonic() + timeout
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            )).scalar()  # fmt: skip
            if waiting:
                return True
            conn.rollback()
            time.sleep(0.05)
    return False


@pytest.mark.parametrize("second", ["the same items", "the items with corrected times"])
def test_two_transactions_storing_the_same_items_at_once_store_them_once(
    engine: Engine, second: str
) -> None:
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite has one writer at a time")
    first_rows = [_row(s, EPOCH + timedelta(seconds=s), synced=False) for s in range(3)]
    second_rows = (first_rows if second == "the same items" else
                   [_row(s, this_month() + timedelta(seconds=s), synced=True) for s in range(3)])
    stored_second: list[list[int]] = []

    def second_worker() -> None:
        with engine.begin() as conn:
            stored_second.append(Store(engine).insert_readings(conn, second_rows))

    with engine.connect() as conn:
        with conn.begin():
            assert Store(engine).insert_readings(conn, first_rows) == [0, 1, 2]
            worker = threading.Thread(target=second_worker)
            worker.start()
            assert _waiting_for_a_lock(engine), "the second transaction did not wait"
        worker.join(30)
    assert stored_second == [[]]
    assert {s: len(t) for s, t in where_stored(engine, "field-a").items()} == {0: 1, 1: 1, 2: 1}
