"""Read-side queries behind the REST API; the same SQL on SQLite and PostgreSQL.

The hot lists (devices, readings, buckets) come back as plain dicts in their response model's
field order, built from plain query rows (no ORM objects, no per-row model validation); the
routes serialise them with fleet.web.api.plain.as_json, as pydantic would the models.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import BigInteger, ColumnElement, cast, extract, func
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from agrifleet.contract import ModelRef
from agrifleet.fleet.devices.tables import Device, Position
from agrifleet.fleet.telemetry import gaps, rollups
from agrifleet.fleet.telemetry.tables import (
    BootGaps,
    DeviceBoot,
    DeviceDetail,
    Event,
    EventPublic,
    GapSummary,
    LatestReading,
    LatestReadingPublic,
    Reading,
    ReadingPublic,
)

Order = Literal["asc", "desc"]
MAX_MISSING_RANGES = 1000


def _positions(session: Session, device_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Each device's position (Position's fields) from its newest latitude and longitude."""
    t = LatestReading.__table__  # type: ignore[attr-defined]
    newest: dict[tuple[str, str], tuple[float, datetime]] = {}
    for start in range(0, len(device_ids), 500):
        rows = session.execute(
            select_columns(t.c.device_id, t.c.quantity, t.c.value, t.c.ts).where(
                t.c.device_id.in_(device_ids[start : start + 500]),
                t.c.quantity.in_(("latitude", "longitude")),
            )
        )
        for dev, quantity, value, ts in rows:
            key = (dev, quantity)
            if key not in newest or ts > newest[key][1]:
                newest[key] = (value, ts)
    out = {}
    for dev in device_ids:
        lat, lon = newest.get((dev, "latitude")), newest.get((dev, "longitude"))
        if lat is not None and lon is not None:
            out[dev] = {"latitude": lat[0], "longitude": lon[0], "ts": max(lat[1], lon[1])}
    return out


def positions(session: Session, device_ids: list[str]) -> dict[str, Position]:
    """Each device's position from its newest latitude and longitude readings."""
    return {dev: Position(**p) for dev, p in _positions(session, device_ids).items()}


def heard_since(offline_after_s: int, now: datetime | None = None) -> datetime:
    """The oldest last_seen that still counts as online."""
    return (now or datetime.now(UTC)) - timedelta(seconds=offline_after_s)


def is_online(device: Device, offline_after_s: int) -> bool:
    """Its last status said online, and it has been heard from since :func:`heard_since`.

    A node that lost power while the broker was down (or whose last will was lost with a
    broker that keeps no state) never sends "offline"; silence says it instead.
    """
    last = device.last_seen
    return device.online and last is not None and last >= heard_since(offline_after_s)


def active_model(device: Device) -> ModelRef | None:
    """The model the node said it runs (Status.health.model), or None."""
    return _model_of(device.health)


def count_online(session: Session, offline_after_s: int) -> int:
    """How many devices :func:`is_online` holds for, counted in the database."""
    recent = col(Device.last_seen) >= heard_since(offline_after_s)
    return int(session.exec(select(func.count()).where(col(Device.online), recent)).one())


def list_devices(
    session: Session, limit: int, offset: int, offline_after_s: int,
    farm_ids: set[int] | None = None,
) -> list[dict[str, Any]]:
    """DevicePublic's fields per device, by id; only those of ``farm_ids`` when given."""
    t = Device.__table__  # type: ignore[attr-defined]
    query = (
        select_columns(t.c.id, t.c.name, t.c.created_at, t.c.online, t.c.last_seen,
                       t.c.boot_id, t.c.tags, t.c.health, t.c.farm_id, t.c.field_id)
        .order_by(t.c.id).offset(offset).limit(limit)
    )  # fmt: skip
    if farm_ids is not None:
        query = query.where(t.c.farm_id.in_(farm_ids))
    found = session.execute(query).all()
    where = _positions(session, [row.id for row in found])
    since = heard_since(offline_after_s)
    out = []
    for dev, name, created_at, online, last_seen, boot_id, tags, health, farm, fld in found:
        model = _model_of(health)
        out.append({
            "id": dev, "name": name, "created_at": created_at,
            "online": bool(online and last_seen is not None and last_seen >= since),
            "last_seen": last_seen, "boot_id": boot_id, "position": where.get(dev),
            "tags": tags or [], "farm_id": farm, "field_id": fld,
            "model": model.model_dump() if model else None,
        })  # fmt: skip
    return out


def _model_of(health: dict[str, Any] | None) -> ModelRef | None:
    ref = (health or {}).get("model")
    try:
        return ModelRef.model_validate(ref) if ref else None
    except ValueError:
        return None


def boot_gaps(session: Session, device_id: str) -> list[BootGaps]:
    boots = session.exec(
        select(DeviceBoot)
        .where(DeviceBoot.device_id == device_id)
        .order_by(col(DeviceBoot.first_seen))
    )
    return [
        BootGaps(
            boot_id=b.boot_id,
            first_seen=b.first_seen,
            last_seen=b.last_seen,
            received=b.received,
            highest_seq=b.highest_seq,
            missing=gaps.missing_count(b.ranges),
            missing_ranges=gaps.missing_ranges(b.ranges, limit=MAX_MISSING_RANGES),
        )
        for b in boots
    ]


def device_detail(session: Session, device: Device, offline_after_s: int) -> DeviceDetail:
    latest = session.exec(
        select(LatestReading)
        .where(LatestReading.device_id == device.id)
        .order_by(col(LatestReading.sensor), col(LatestReading.quantity))
    ).all()
    boots = boot_gaps(session, device.id)
    summary = GapSummary(
        boots=len(boots),
        boots_with_gaps=sum(1 for b in boots if b.missing),
        missing=sum(b.missing for b in boots),
    )
    return DeviceDetail.model_validate(
        device,
        update={
            "position": positions(session, [device.id]).get(device.id),
            "online": is_online(device, offline_after_s),
            "model": active_model(device),
            "latest": [LatestReadingPublic.model_validate(r) for r in latest],
            "gaps": summary,
        },
    )


def in_window(ts: Any, since: datetime | None,
              until: datetime | None) -> list[ColumnElement[bool]]:
    where = []
    if since is not None:
        where.append(ts >= since)
    if until is not None:
        where.append(ts < until)
    return where


def _reading_filter(
    device_id: str,
    sensor: str | None,
    quantity: str | None,
    since: datetime | None,
    until: datetime | None,
) -> list[ColumnElement[bool]]:
    where = [col(Reading.device_id) == device_id, *in_window(col(Reading.ts), since, until)]
    if sensor is not None:
        where.append(col(Reading.sensor) == sensor)
    if quantity is not None:
        where.append(col(Reading.quantity) == quantity)
    return where


def readings(
    session: Session,
    device_id: str,
    sensor: str | None,
    quantity: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    order: Order,
) -> list[dict[str, Any]]:
    """ReadingPublic's fields per reading, by device time."""
    where = _reading_filter(device_id, sensor, quantity, since, until)
    t = Reading.__table__  # type: ignore[attr-defined]
    columns = [t.c[name] for name in ReadingPublic.model_fields]
    query = (
        select_columns(*columns)
        .where(*where)
        .order_by(t.c.ts.asc() if order == "asc" else t.c.ts.desc())
        .limit(limit)
    )
    return [dict(row._mapping) for row in session.execute(query)]


#: Bucket starts stay within what every database and Python's datetime hold.
EPOCH_CLIP = (0, int(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()))


def _bucket_index(session: Session, seconds: int) -> ColumnElement[int]:
    """``floor(epoch(ts) / seconds)`` in the connected database's own words.

    The epoch is clipped to 1970..9999: a reading dated earlier (stored before ingestion
    refused such times) counts in the first bucket of 1970. SQLite reads no fraction of a
    second (23:59:59.999999 on 9999-12-31 would round into year 10000) and no year written
    with fewer than four digits (those are before 1000, so clipped low).
    """
    low, high = EPOCH_CLIP
    if session.get_bind().dialect.name == "sqlite":
        seconds_text = func.substr(col(Reading.ts), 1, 19)
        raw: ColumnElement[Any] = cast(func.strftime("%s", seconds_text), BigInteger)
        epoch: ColumnElement[Any] = func.max(func.min(func.coalesce(raw, low), high), low)
    else:
        raw = cast(func.floor(extract("epoch", col(Reading.ts))), BigInteger)
        epoch = func.greatest(func.least(raw, high), low)
    return cast(epoch, BigInteger) // seconds


def _mean(mean: Any, low: float, high: float) -> float:
    """AVG within [min, max]: over equal floats it can land an ulp outside (PostgreSQL does).

    Over +inf and -inf (rows put in by hand; ingestion refuses them) it is NaN, which SQLite
    returns as NULL; both are NaN here, which JSON shows as null.
    """
    if mean is None or math.isnan(mean):
        return math.nan
    return min(max(float(mean), low), high)


def reading_buckets(
    session: Session,
    device_id: str,
    sensor: str | None,
    quantity: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    seconds: int,
) -> list[dict[str, Any]]:
    """ReadingBucket's fields per bucket; hours and days from the rollups when the window
    starts and ends on bucket boundaries (so no partial bucket is asked for)."""
    if seconds in rollups.WIDTHS and all(
        edge is None or edge.timestamp() % seconds == 0 for edge in (since, until)
    ):
        return _rolled_up(session, device_id, sensor, quantity, since, until, limit, seconds)
    where = _reading_filter(device_id, sensor, quantity, since, until)
    index = _bucket_index(session, seconds).label("bucket")
    query = (
        select_columns(
            col(Reading.sensor),
            col(Reading.quantity),
            index,
            func.count().label("n"),
            func.min(Reading.value).label("lo"),
            func.avg(Reading.value).label("mean"),
            func.max(Reading.value).label("hi"),
        )
        .where(*where)
        .group_by(col(Reading.sensor), col(Reading.quantity), index)
        .order_by(col(Reading.sensor), col(Reading.quantity), index)
        .limit(limit)
    )
    return [
        {"sensor": row.sensor, "quantity": row.quantity,
         "start": datetime.fromtimestamp(int(row.bucket) * seconds, UTC), "count": row.n,
         "min": row.lo, "mean": _mean(row.mean, row.lo, row.hi), "max": row.hi}
        for row in session.execute(query)
    ]  # fmt: skip


def _rolled_up(
    session: Session,
    device_id: str,
    sensor: str | None,
    quantity: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    seconds: int,
) -> list[dict[str, Any]]:
    t = rollups.table(seconds)
    where = [t.c.device_id == device_id, *in_window(t.c.bucket, since, until)]
    if sensor is not None:
        where.append(t.c.sensor == sensor)
    if quantity is not None:
        where.append(t.c.quantity == quantity)
    query = (
        select_columns(t.c.sensor, t.c.quantity, t.c.bucket, t.c.count, t.c.sum, t.c.min,
                       t.c.max)
        .where(*where)
        .order_by(t.c.sensor, t.c.quantity, t.c.bucket)
        .limit(limit)
    )  # fmt: skip
    return [
        {"sensor": s, "quantity": q, "start": start, "count": n, "min": low,
         "mean": _mean(None if total is None else total / n, low, high), "max": high}
        for s, q, start, n, total, low, high in session.execute(query)
    ]  # fmt: skip


def events(
    session: Session,
    device_id: str,
    severity: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
) -> list[EventPublic]:
    where = [col(Event.device_id) == device_id, *in_window(col(Event.ts), since, until)]
    if severity is not None:
        where.append(col(Event.severity) == severity)
    query = select(Event).where(*where).order_by(col(Event.ts).desc()).limit(limit)
    return [EventPublic.model_validate(e) for e in session.exec(query)]
