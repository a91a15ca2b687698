"""Reading queries specify: filters by sensor, quantity and time window, and downsampling into
min/mean/max buckets aligned to the epoch, the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from agrifleet.fleet.telemetry.writer import Incoming, Writer
from tests.fleet.conftest import FleetUnderTest
from tests.fleet.device import T0, batch, reading


def _store(api: FleetUnderTest, device_id: str, items: list[dict]) -> list:
    """Store a batch through the real writer (no broker needed for query tests)."""
    acks: list = []
    writer = Writer(
        api.app.state.engine, api.app.state.metrics, "agrifleet", lambda dev, ack: acks.append(ack)
    )
    writer.write([Incoming(f"agrifleet/{device_id}/messages", batch(device_id, "b1", items))])
    return acks


def test_filters_and_window(api: FleetUnderTest) -> None:
    api.register("field-01")
    items = [reading(s, value=s, ts=T0 + timedelta(minutes=s)) for s in range(10)]
    items += [
        reading(
            10 + s,
            value=100 + s,
            sensor="air",
            quantity="temperature",
            unit="degC",
            ts=T0 + timedelta(minutes=s),
        )
        for s in range(3)
    ]
    assert _store(api, "field-01", items)[0].ranges == [(0, 12)]
    url = "/api/v1/devices/field-01/readings"
    assert len(api.get(url)) == 13
    soil = api.get(url, sensor="soil", order="asc")
    assert [r["value"] for r in soil] == list(range(10))
    assert [r["value"] for r in api.get(url, quantity="temperature")] == [102, 101, 100]
    window = api.get(
        url,
        sensor="soil",
        since=(T0 + timedelta(minutes=2)).isoformat(),
        until=(T0 + timedelta(minutes=5)).isoformat(),
        order="asc",
    )
    assert [r["value"] for r in window] == [2, 3, 4]
    naive = api.get(url, sensor="soil", since="2026-06-01T12:08:00")  # no zone: UTC
    assert [r["value"] for r in naive] == [9, 8]
    assert [r["value"] for r in api.get(url, sensor="soil", limit=2)] == [9, 8]


def test_downsampled_buckets(api: FleetUnderTest) -> None:
    api.register("field-01")
    # 12 readings a minute apart, values 0..11, in 5-minute buckets starting at 12:00.
    items = [reading(s, value=float(s), ts=T0 + timedelta(minutes=s)) for s in range(12)]
    items.append(reading(12, value=7.0, sensor="air", quantity="temperature", ts=T0))
    _store(api, "field-01", items)
    buckets = api.get("/api/v1/devices/field-01/readings", sensor="soil", bucket=300)
    assert [(b["start"][:19], b["count"], b["min"], b["mean"], b["max"]) for b in buckets] == [
        ("2026-06-01T12:00:00", 5, 0.0, 2.0, 4.0),
        ("2026-06-01T12:05:00", 5, 5.0, 7.0, 9.0),
        ("2026-06-01T12:10:00", 2, 10.0, 10.5, 11.0),
    ]
    hourly = api.get("/api/v1/devices/field-01/readings", bucket=3600)
    assert {(b["sensor"], b["count"]) for b in hourly} == {("soil", 12), ("air", 1)}
    since = api.get(
        "/api/v1/devices/field-01/readings",
        sensor="soil",
        bucket=300,
        since=(T0 + timedelta(minutes=6)).isoformat(),
    )
    assert [(b["count"], b["min"]) for b in since] == [(4, 6.0), (2, 10.0)]


def test_bucket_mean_of_equal_values_stays_within_min_and_max(api: FleetUnderTest) -> None:
    api.register("field-01")
    # AVG over equal doubles can come back one ulp off on PostgreSQL; a chart must not see it.
    value = 10.030000666666666
    _store(api, "field-01", [reading(s, value=value, ts=T0) for s in range(3)])
    [bucket] = api.get("/api/v1/devices/field-01/readings", sensor="soil", bucket=60)
    assert bucket["min"] <= bucket["mean"] <= bucket["max"]
    assert bucket["mean"] == value
