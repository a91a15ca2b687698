"""Migration 0009 specifies: on a database holding an older release's readings (schema 0004),
every reading is kept, the rollups are filled from them, readings lose their per-row foreign
key and gain the (device, time) index, and the writer goes on from there, adding to the
rollups."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import inspect, text

from agrifleet.fleet.db import make_engine
from agrifleet.fleet.metrics import Metrics
from agrifleet.fleet.migrate import upgrade
from agrifleet.fleet.telemetry.writer import Incoming, Writer
from tests.fleet.device import T0, batch, reading
from tests.fleet.telemetry.storage.helpers import assert_rollups_match_raw, stored_rollups


def test_0009_on_a_database_with_readings(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0004")
        mark = "?" if engine.dialect.name == "sqlite" else "%s"
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO device (id, name, created_at, online, tags) "
                "VALUES ('old-1', '', '2026-01-01 00:00:00', false, '[]')"
            ))  # fmt: skip
            rows = [
                ("old-1", "b0", s, (T0 + timedelta(minutes=17 * s)).strftime(
                    "%Y-%m-%d %H:%M:%S.%f"), float(s), True, "soil", "moisture",
                 float(s % 5), "%", "2026-06-01 00:00:00.000000")
                for s in range(400)
            ]  # fmt: skip
            conn.exec_driver_sql(
                "INSERT INTO reading (device_id, boot_id, seq, ts, uptime_s, clock_synced, "  # noqa: S608
                "sensor, quantity, value, unit, stored_at) VALUES "
                f"({', '.join([mark] * 11)})", rows,
            )
        upgrade(engine)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM reading")).scalar() == 400
        assert_rollups_match_raw(engine)
        assert sum(n for n, *_ in stored_rollups(engine, 86400).values()) == 400
        names = {i["name"] for i in inspect(engine).get_indexes("reading")}
        assert "ix_reading_device_ts" in names and "ix_reading_series" not in names
        assert inspect(engine).get_foreign_keys("reading") == []
        writer = Writer(engine, Metrics(), "agrifleet", lambda _dev, _ack: None)
        more = [reading(s, value=9.0, ts=T0 + timedelta(minutes=17 * s)) for s in range(390, 420)]
        writer.write([Incoming("agrifleet/old-1/messages", batch("old-1", "b0", more))])
        with engine.connect() as conn:
            # 390..399 conflict with the stored ones, which stay; 400..419 are new.
            assert conn.execute(text("SELECT count(*) FROM reading")).scalar() == 420
        assert_rollups_match_raw(engine)
    finally:
        engine.dispose()
