"""What the rollup tables hold and what they should hold computed straight from raw rows; a
migrated database, its devices, batches through the writer, and where readings are stored."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select, text
from sqlmodel import Session, SQLModel

from agrifleet.fleet.db import make_engine
from agrifleet.fleet.devices.tables import Device
from agrifleet.fleet.metrics import Metrics
from agrifleet.fleet.migrate import upgrade
from agrifleet.fleet.telemetry import rollups
from agrifleet.fleet.telemetry.writer import Incoming, Writer
from tests.fleet.device import batch


def stored_rollups(engine: Engine, width: int) -> dict[tuple[str, str, str, datetime], tuple]:
    """(device, sensor, quantity, bucket) → (count, sum, min, max) as the rollup table holds."""
    t = rollups.table(width)
    with engine.connect() as conn:
        rows = conn.execute(select(t.c.device_id, t.c.sensor, t.c.quantity, t.c.bucket,
                                   t.c.count, t.c.sum, t.c.min, t.c.max)).all()  # fmt: skip
    return {(d, s, q, b): (n, total, low, high) for d, s, q, b, n, total, low, high in rows}


def raw_rollups(engine: Engine, width: int) -> dict[tuple[str, str, str, datetime], tuple]:
    """The same, computed here from every raw reading (a plain loop, not fleet's code)."""
    reading = SQLModel.metadata.tables["reading"]
    with engine.connect() as conn:
        rows = conn.execute(select(reading.c.device_id, reading.c.sensor, reading.c.quantity,
                                   reading.c.ts, reading.c.value)).all()  # fmt: skip
    values: dict[tuple[str, str, str, datetime], list[float]] = defaultdict(list)
    for dev, sensor, quantity, ts, value in rows:
        epoch = int(ts.timestamp() // 1)
        values[(dev, sensor, quantity, datetime.fromtimestamp(epoch - epoch % width, UTC))].append(
            value
        )
    return {k: (len(v), sum(v), min(v), max(v)) for k, v in values.items()}


def assert_rollups_match_raw(engine: Engine) -> None:
    for width in rollups.WIDTHS:
        have, want = stored_rollups(engine, width), raw_rollups(engine, width)
        assert have.keys() == want.keys(), width
        for key, (n, total, low, high) in want.items():
            got: Any = have[key]
            assert got[0] == n and got[2] == low and got[3] == high, (width, key, got)
            assert abs(got[1] - total) <= 1e-9 * max(1.0, abs(total)), (width, key, got)


def fresh_engine(url: str) -> Engine:
    """An engine on a database migrated to the newest schema."""
    engine = make_engine(url)
    upgrade(engine)
    return engine


def register(engine: Engine, *devices: str) -> None:
    """Devices the writer accepts messages from (the API's registration, without the API)."""
    with Session(engine) as session:
        session.add_all(Device(id=dev) for dev in devices)
        session.commit()


def store(engine: Engine, dev: str, items: list[dict[str, Any]], boot: str = "b1") -> Any:
    """One batch through the fleet's writer; its ack."""
    acks: list[Any] = []
    writer = Writer(engine, Metrics(), "agrifleet", lambda _dev, ack: acks.append(ack))
    writer.write([Incoming(f"agrifleet/{dev}/messages", batch(dev, boot, items))])
    (ack,) = acks
    return ack


def where_stored(engine: Engine, dev: str) -> dict[int, list[str]]:
    """seq → the tables (partitions on PostgreSQL) holding a reading of ``dev`` with that seq."""
    where = "tableoid::regclass::text" if engine.dialect.name == "postgresql" else "'reading'"
    found: dict[int, list[str]] = defaultdict(list)
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT seq, {where} FROM reading "  # noqa: S608
                                 "WHERE device_id = :d ORDER BY seq, 2"), {"d": dev})  # fmt: skip
        for seq, table_ in rows:
            found[seq].append(table_)
    return dict(found)
