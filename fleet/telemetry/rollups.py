"""Hourly and daily rollups of readings, kept by the writer in the transaction of the readings.

Per device, sensor, quantity and bucket (the UTC hour or day the reading's ``ts`` falls in,
aligned to the epoch like ``?bucket=3600`` / ``?bucket=86400``): how many readings, their sum,
minimum and maximum. The writer adds only the readings a transaction stored for the first time
(a redelivered batch adds nothing), aggregated per bucket before one upsert; a clock correction
that moves stored readings to another bucket has both buckets counted again from the raw rows.
Rollups outlive the raw readings' retention (fleet/farmdata/retention.py): a season chart stays.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Table, and_, delete, func, insert, select
from sqlalchemy.dialects import sqlite
from sqlmodel import SQLModel

from agrifleet.fleet.telemetry import staging

#: Bucket width in seconds → rollup table name.
WIDTHS = {3600: "reading_hourly", 86400: "reading_daily"}

#: (device, sensor, quantity, bucket start as epoch seconds)
BucketKey = tuple[str, str, str, int]
#: [count, sum, min, max]
Aggregate = list[float]


def table(width: int) -> Table:
    return SQLModel.metadata.tables[WIDTHS[width]]


def aggregate(
    readings: Iterable[tuple[str, str, str, datetime, float]],
) -> dict[int, dict[BucketKey, Aggregate]]:
    """width → bucket → [count, sum, min, max] of (device, sensor, quantity, ts, value)."""
    hourly: dict[BucketKey, Aggregate] = {}
    hours: dict[datetime, int] = {}
    for dev, sensor, quantity, ts, value in readings:
        hour = hours.get(ts)
        if hour is None:
            epoch = int(ts.timestamp() // 1)
            hour = hours[ts] = epoch - epoch % 3600
        key = (dev, sensor, quantity, hour)
        agg = hourly.get(key)
        if agg is None:
            hourly[key] = [1, value, value, value]
        else:
            agg[0] += 1
            agg[1] += value
            if value < agg[2]:
                agg[2] = value
            if value > agg[3]:
                agg[3] = value
    daily: dict[BucketKey, Aggregate] = {}  # days from hours: every day is whole hours
    for (dev, sensor, quantity, hour), (n, total, low, high) in hourly.items():
        key = (dev, sensor, quantity, hour - hour % 86400)
        agg = daily.get(key)
        if agg is None:
            daily[key] = [n, total, low, high]
        else:
            agg[0] += n
            agg[1] += total
            agg[2] = min(agg[2], low)
            agg[3] = max(agg[3], high)
    return {3600: hourly, 86400: daily}


#: The buckets of a transaction on PostgreSQL, staged for both tables (fleet/telemetry/staging.py).
_STAGING = (("width", "int8"), ("device_id", "text"), ("sensor", "text"), ("quantity", "text"),
            ("bucket", "timestamptz"), ("count", "int8"), ("sum", "float8"), ("min", "float8"),
            ("max", "float8"))  # fmt: skip
_ADD_PG = (  # only our own table names are formatted in
    'INSERT INTO {table} AS t (device_id, sensor, quantity, bucket, "count", "sum", "min", "max") '
    'SELECT device_id, sensor, quantity, bucket, "count", "sum", "min", "max" FROM rollup_in '
    'WHERE width = %s ON CONFLICT (device_id, sensor, quantity, bucket) DO UPDATE SET '
    '"count" = t."count" + excluded."count", "sum" = t."sum" + excluded."sum", '
    '"min" = least(t."min", excluded."min"), "max" = greatest(t."max", excluded."max")'
)


def add(conn: Connection, deltas: dict[int, dict[BucketKey, Aggregate]]) -> None:
    """Add the aggregates to the rollup tables (one upsert per table)."""
    if not any(deltas.values()):
        return
    if conn.dialect.name == "postgresql":
        staging.stage(conn, "rollup_in", _STAGING, (
            (width, dev, sensor, quantity, datetime.fromtimestamp(start, UTC), int(agg[0]),
             agg[1], agg[2], agg[3])
            for width, buckets in deltas.items()
            for (dev, sensor, quantity, start), agg in buckets.items()
        ))  # fmt: skip
        for width, buckets in deltas.items():
            if buckets:
                conn.exec_driver_sql(_ADD_PG.format(table=WIDTHS[width]), (width,))
        return
    for width, buckets in deltas.items():
        if not buckets:
            continue
        t = table(width)
        rows = [
            {"device_id": dev, "sensor": sensor, "quantity": quantity,
             "bucket": datetime.fromtimestamp(start, UTC), "count": int(agg[0]),
             "sum": agg[1], "min": agg[2], "max": agg[3]}
            for (dev, sensor, quantity, start), agg in buckets.items()
        ]  # fmt: skip
        ins = sqlite.insert(t)
        stmt = ins.on_conflict_do_update(
            index_elements=[t.c.device_id, t.c.sensor, t.c.quantity, t.c.bucket],
            set_={  # SQLite's two-argument min() and max() are scalar
                "count": t.c.count + ins.excluded["count"],
                "sum": t.c.sum + ins.excluded["sum"],
                "min": func.min(t.c.min, ins.excluded["min"]),
                "max": func.max(t.c.max, ins.excluded["max"]),
            },
        )
        for start in range(0, len(rows), 500):
            conn.execute(stmt, rows[start : start + 500])


def recount(conn: Connection, keys: set[tuple[int, str, str, str, int]]) -> None:
    """Count these (width, device, sensor, quantity, bucket start) buckets again from raw rows."""
    reading = SQLModel.metadata.tables["reading"]
    for width, dev, sensor, quantity, start in sorted(keys):
        t = table(width)
        begin = datetime.fromtimestamp(start, UTC)
        where = and_(t.c.device_id == dev, t.c.sensor == sensor, t.c.quantity == quantity,
                     t.c.bucket == begin)  # fmt: skip
        conn.execute(delete(t).where(where))
        raw = (
            select(func.count(), func.sum(reading.c.value), func.min(reading.c.value),
                   func.max(reading.c.value))
            .where(reading.c.device_id == dev, reading.c.sensor == sensor,
                   reading.c.quantity == quantity, reading.c.ts >= begin,
                   reading.c.ts < begin + timedelta(seconds=width))
        )  # fmt: skip
        n, total, low, high = conn.execute(raw).one()
        if n:
            conn.execute(insert(t).values(device_id=dev, sensor=sensor, quantity=quantity,
                                          bucket=begin, count=n, sum=total, min=low,
                                          max=high))  # fmt: skip


#: Bucket starts are clipped to 1970..9999 like the readings API's raw buckets
#: (fleet/telemetry/queries.py).
_HIGH = 253402300799


def _bucket_sql(dialect: str, width: int) -> str:
    if dialect == "postgresql":
        epoch = f"greatest(least(floor(extract(epoch from ts))::bigint, {_HIGH}), 0)"
        return f"to_timestamp(({epoch} / {width}) * {width})"
    epoch = (f"max(min(coalesce(cast(strftime('%s', substr(ts, 1, 19)) as integer), 0), "
             f"{_HIGH}), 0)")  # fmt: skip
    return f"strftime('%Y-%m-%d %H:%M:%S.000000', ({epoch} / {width}) * {width}, 'unixepoch')"


def rebuild(conn: Connection) -> None:
    """Count every rollup again from the raw readings (what migration 0009 does for readings an
    older fleet stored; also for readings put in by hand)."""
    for width, name in WIDTHS.items():
        bucket = _bucket_sql(conn.dialect.name, width)
        conn.execute(delete(table(width)))
        conn.exec_driver_sql(
            f"INSERT INTO {name} (device_id, sensor, quantity, bucket, count, sum, min, max) "  # noqa: S608
            f"SELECT device_id, sensor, quantity, {bucket}, count(*), sum(value), min(value), "
            f"max(value) FROM reading GROUP BY device_id, sensor, quantity, {bucket}"
        )


def buckets_of(dev: str, sensor: str, quantity: str, ts: datetime) -> set[tuple[int, str, str,
                                                                           str, int]]:  # fmt: skip
    """The hourly and daily bucket keys a reading at ``ts`` counts in."""
    epoch = int(ts.timestamp() // 1)
    return {(w, dev, sensor, quantity, epoch - epoch % w) for w in WIDTHS}
