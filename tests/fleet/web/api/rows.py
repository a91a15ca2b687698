"""Rows put straight into the database, as an older fleet (or a hand with SQL) left them, and
counted in the rollups as migration 0009 counts an older fleet's readings."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert, text

from agrifleet.fleet.devices.tables import Device
from agrifleet.fleet.telemetry import rollups
from agrifleet.fleet.telemetry.tables import LatestReading, Reading
from agrifleet.fleet.telemetry.writer import Incoming, Writer
from tests.fleet.device import batch, detection, event, jpeg_bytes, reading

#: Times ingestion refuses now but may have stored before: the first and last a datetime holds.
YEAR_1 = datetime(1, 1, 1, tzinfo=UTC)
YEAR_9999 = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


def store_items(app: Any, device_id: str, items: list[dict[str, Any]]) -> None:
    """Items stored through the real writer, as ingestion would."""
    writer = Writer(app.state.engine, app.state.metrics, "agrifleet", lambda dev, ack: None)
    writer.write([Incoming(f"agrifleet/{device_id}/messages", batch(device_id, "b1", items))])


def insert_odd_readings(engine: Engine, device_id: str, seq: int = 1000) -> None:
    """Readings dated year 1 and 9999-12-31T23:59:59.999999Z, and the latest one at 9999.

    On SQLite also one with the text the writer once stored for year 1 ("1-01-01 …": strftime
    does not pad the year), which neither Python nor SQLite's own date functions read.
    """
    row = {"device_id": device_id, "boot_id": "old", "uptime_s": 0.0, "clock_synced": True,
           "sensor": "soil", "quantity": "moisture", "unit": "%",
           "stored_at": datetime(2026, 6, 1, tzinfo=UTC)}  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(Reading), [
            {**row, "seq": seq, "ts": YEAR_1, "value": 1.0},
            {**row, "seq": seq + 1, "ts": YEAR_9999, "value": 9999.0},
        ])  # fmt: skip
        conn.execute(insert(LatestReading).values(
            device_id=device_id, sensor="odd", quantity="moisture", value=1.0, unit="%",
            ts=YEAR_9999, boot_id="old", seq=seq + 1,
        ))  # fmt: skip
        if conn.dialect.name == "sqlite":
            conn.execute(
                text("INSERT INTO reading (device_id, boot_id, seq, ts, uptime_s, clock_synced,"
                     " sensor, quantity, value, unit, stored_at) VALUES (:d, 'old', :s,"
                     " '1-01-01 00:00:00.000000', 0, 1, 'soil', 'moisture', 2.0, '%',"
                     " '2026-06-01 00:00:00.000000')"),
                {"d": device_id, "s": seq + 2},
            )  # fmt: skip
        rollups.rebuild(conn)


def insert_infinite_readings(engine: Engine, device_id: str, seq: int = 2000) -> None:
    """Sensor "wild": +inf and -inf, which only a hand with SQL could have stored."""
    row = {"device_id": device_id, "boot_id": "old", "uptime_s": 0.0, "clock_synced": True,
           "sensor": "wild", "quantity": "moisture", "unit": "%",
           "ts": datetime(2026, 6, 1, tzinfo=UTC), "stored_at": datetime(2026, 6, 1, tzinfo=UTC)}
    with engine.begin() as conn:
        conn.execute(insert(Reading), [{**row, "seq": seq, "value": math.inf},
                                       {**row, "seq": seq + 1, "value": -math.inf}])  # fmt: skip
        rollups.rebuild(conn)


def seed(app: Any, device_id: str = "field-07") -> None:
    """A device with readings (some oddly dated), a detection with its image and an event."""
    with app.state.engine.begin() as conn:
        conn.execute(insert(Device).values(id=device_id, name="North field"))
    store_items(app, device_id, [
        *(reading(s, value=float(s)) for s in range(5)),
        detection(5, image=jpeg_bytes()),
        event(6),
    ])  # fmt: skip
    insert_odd_readings(app.state.engine, device_id)
