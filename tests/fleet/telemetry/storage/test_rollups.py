"""Rollups specify: the hourly and daily rollups hold exactly count, sum, min and max of the
raw readings, however often a batch is delivered and wherever a clock correction moves a
reading; hour and day buckets of the readings API come from them (equal to the raw
computation, and still there once raw rows are gone), other buckets from raw rows; the latest
value per series is the newest reading of the transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, text
from sqlmodel import SQLModel

from agrifleet.contract import Ack
from agrifleet.fleet.telemetry.writer import Incoming, Writer
from tests.fleet.conftest import FleetUnderTest
from tests.fleet.device import T0, batch, reading
from tests.fleet.telemetry.storage.helpers import assert_rollups_match_raw, stored_rollups

READINGS = "/api/v1/devices/field-a/readings"


class Node:
    def __init__(self, api: FleetUnderTest) -> None:
        """The real writer on the test's database and metrics, keeping the acks it sends."""
        self.acks: list[Ack] = []
        self.writer = Writer(api.app.state.engine, api.app.state.metrics, "agrifleet",
                             lambda _dev, ack: self.acks.append(ack))  # fmt: skip

    def write(self, *payloads: bytes, device: str = "field-a") -> list[Ack]:
        self.acks.clear()
        self.writer.write([Incoming(f"agrifleet/{device}/messages", p) for p in payloads])
        return list(self.acks)


def _spread(first: int, n: int, step_s: int = 700) -> list[dict]:
    """n readings of two quantities, one every step_s seconds from T0: several hours, 2 days."""
    return [
        reading(s, value=float(s % 13) - 4.5, quantity="moisture" if s % 2 else "temperature",
                ts=T0 + timedelta(seconds=step_s * s))
        for s in range(first, first + n)
    ]  # fmt: skip


def test_rollups_equal_the_raw_rows_and_a_redelivered_batch_adds_nothing(
    api: FleetUnderTest,
) -> None:
    api.register("field-a")
    api.register("field-b")
    node = Node(api)
    engine = api.app.state.engine
    first = batch("field-a", "b1", _spread(0, 200))
    second = batch("field-a", "b1", _spread(200, 100))
    node.write(first)
    node.write(batch("field-b", "b1", _spread(0, 50)), device="field-b")
    assert_rollups_match_raw(engine)
    before = stored_rollups(engine, 3600)
    # The same batch again, alone, twice in one transaction, and beside a new one.
    assert node.write(first) == [Ack(boot_id="b1", ranges=[(0, 199)])]
    assert len(node.write(first, first)) == 2
    assert stored_rollups(engine, 3600) == before
    node.write(first, second)
    assert_rollups_match_raw(engine)
    total = sum(n for n, *_ in stored_rollups(engine, 86400).values())
    assert total == 350  # 300 of field-a, 50 of field-b: nothing counted twice
    with engine.connect() as conn:  # nor stored twice (COPY and staging on PostgreSQL)
        assert conn.execute(text("SELECT count(*) FROM reading")).scalar() == 350
        assert conn.execute(text(
            "SELECT count(*) FROM (SELECT DISTINCT device_id, boot_id, seq FROM reading) k"
        )).scalar() == 350  # fmt: skip
    # 200 resent alone, 400 twice in one transaction, 200 beside the new batch.
    assert api.metric('agrifleet_items_duplicate_total{kind="reading"}') == 800


def test_a_clock_correction_moves_the_reading_to_its_bucket(api: FleetUnderTest) -> None:
    api.register("field-a")
    node = Node(api)
    unsynced = reading(1, value=7.0, ts=datetime(1970, 1, 1, 0, 1, tzinfo=UTC)) | {
        "clock_synced": False
    }
    node.write(batch("field-a", "b1", [reading(0, value=3.0), unsynced]))
    assert_rollups_match_raw(api.app.state.engine)
    node.write(batch("field-a", "b1", [reading(1, value=7.0, ts=T0 + timedelta(hours=5))]))
    assert_rollups_match_raw(api.app.state.engine)
    hours = stored_rollups(api.app.state.engine, 3600)
    assert all(bucket.year == 2026 for _, _, _, bucket in hours)  # 1970 is empty again


def test_hour_and_day_buckets_come_from_the_rollups_equal_to_raw(api: FleetUnderTest) -> None:
    api.register("field-a")
    node = Node(api)
    node.write(batch("field-a", "b1", _spread(0, 300)))
    day = T0.replace(hour=0)
    windows: list[tuple[int, datetime | None, datetime | None]] = [
        (3600, None, None),
        (86400, None, None),
        (3600, T0 + timedelta(hours=3), T0 + timedelta(hours=20)),
        (86400, day, day + timedelta(days=1)),
    ]
    second = timedelta(seconds=1)
    for seconds, since, until in windows:
        params: dict[str, Any] = {"bucket": seconds, "quantity": "moisture"}
        # Off the bucket grid by a second, the answer is computed from raw rows (its first and
        # last bucket then hold one second less, which no reading here falls in).
        raw_params = params | {"until": "2100-01-01T00:00:01Z"}
        if since and until:
            params |= {"since": since.isoformat(), "until": until.isoformat()}
            raw_params = params | {"since": (since + second).isoformat(),
                                   "until": (until - second).isoformat()}  # fmt: skip
        rolled = api.get(READINGS, **params)
        raw = api.get(READINGS, **raw_params)
        assert [b["start"] for b in rolled] == [b["start"] for b in raw] and rolled
        for a, b in zip(rolled, raw, strict=True):
            assert (a["count"], a["min"], a["max"]) == (b["count"], b["min"], b["max"])
            assert abs(a["mean"] - b["mean"]) < 1e-9
    # A season chart needs no raw rows: gone, the hourly chart stays; raw buckets are empty.
    chart = api.get(READINGS, bucket=3600)
    with api.app.state.engine.begin() as conn:
        conn.execute(delete(SQLModel.metadata.tables["reading"]))
    assert api.get(READINGS, bucket=3600) == chart and len(chart) > 20
    assert api.get(READINGS, bucket=3599) == []


def test_the_latest_value_is_the_newest_of_the_transaction(api: FleetUnderTest) -> None:
    api.register("field-a")
    node = Node(api)
    items = [reading(s, value=float(s), ts=T0 + timedelta(seconds=(s * 37) % 11))
             for s in range(11)]  # fmt: skip
    newest = max(items, key=lambda r: r["ts"])
    node.write(batch("field-a", "b1", items[:6]), batch("field-a", "b1", items[6:]))
    (latest,) = api.get("/api/v1/devices/field-a")["latest"]
    assert (latest["seq"], latest["value"]) == (newest["seq"], newest["value"])
    # An older reading afterwards leaves it.
    node.write(batch("field-a", "b1", [reading(50, value=-1.0, ts=T0 - timedelta(days=1))]))
    (latest,) = api.get("/api/v1/devices/field-a")["latest"]
    assert latest["seq"] == newest["seq"]
    with api.app.state.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM latestreading")).scalar() == 1
