"""Read-side queries behind the REST API; the same SQL on SQLite and PostgreSQL."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import BigInteger, ColumnElement, Select, cast, extract, func
from sqlalchemy import select as select_columns
from sqlmodel import Session, SQLModel, col, select

from agrifleet.contract import ModelRef
from fleet import gaps
from fleet.models import (
    BootGaps,
    Detection,
    DetectionPublic,
    Device,
    DeviceBoot,
    DeviceDetail,
    DevicePublic,
    Event,
    EventPublic,
    GapSummary,
    LatestReading,
    LatestReadingPublic,
    Position,
    Reading,
    ReadingBucket,
    ReadingPublic,
)

Order = Literal["asc", "desc"]
MAX_MISSING_RANGES = 1000


def positions(session: Session, device_ids: list[str]) -> dict[str, Position]:
    """Each device's position from its newest latitude and longitude readings."""
    rows = session.exec(
        select(LatestReading).where(
            col(LatestReading.device_id).in_(device_ids),
            col(LatestReading.quantity).in_(("latitude", "longitude")),
        )
    ).all()
    newest: dict[tuple[str, str], LatestReading] = {}
    for r in rows:
        key = (r.device_id, r.quantity)
        if key not in newest or r.ts > newest[key].ts:
            newest[key] = r
    out = {}
    for dev in device_ids:
        lat, lon = newest.get((dev, "latitude")), newest.get((dev, "longitude"))
        if lat is not None and lon is not None:
            out[dev] = Position(latitude=lat.value, longitude=lon.value, ts=max(lat.ts, lon.ts))
    return out


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
    ref = (device.health or {}).get("model")
    try:
        return ModelRef.model_validate(ref) if ref else None
    except ValueError:
        return None


def count_online(session: Session, offline_after_s: int) -> int:
    """How many devices :func:`is_online` holds for, counted in the database."""
    recent = col(Device.last_seen) >= heard_since(offline_after_s)
    return int(session.exec(select(func.count()).where(col(Device.online), recent)).one())


def list_devices(
    session: Session, limit: int, offset: int, offline_after_s: int
) -> list[DevicePublic]:
    devices = session.exec(select(Device).order_by(col(Device.id)).offset(offset).limit(limit))
    found = list(devices)
    where = positions(session, [d.id for d in found])
    return [
        DevicePublic.model_validate(d, update={"position": where.get(d.id),
                                               "online": is_online(d, offline_after_s),
                                               "model": active_model(d)})
        for d in found
    ]


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


def _window(ts: Any, since: datetime | None, until: datetime | None) -> list[ColumnElement[bool]]:
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
    where = [col(Reading.device_id) == device_id, *_window(col(Reading.ts), since, until)]
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
) -> list[ReadingPublic]:
    where = _reading_filter(device_id, sensor, quantity, since, until)
    ts = col(Reading.ts)
    query = select(Reading).where(*where).order_by(ts.asc() if order == "asc" else ts.desc())
    return [ReadingPublic.model_validate(r) for r in session.exec(query.limit(limit))]


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
) -> list[ReadingBucket]:
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
        ReadingBucket(
            sensor=row.sensor,
            quantity=row.quantity,
            start=datetime.fromtimestamp(int(row.bucket) * seconds, UTC),
            count=row.n,
            min=row.lo,
            mean=_mean(row.mean, row.lo, row.hi),
            max=row.hi,
        )
        for row in session.execute(query)
    ]


def events(
    session: Session,
    device_id: str,
    severity: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
) -> list[EventPublic]:
    where = [col(Event.device_id) == device_id, *_window(col(Event.ts), since, until)]
    if severity is not None:
        where.append(col(Event.severity) == severity)
    query = select(Event).where(*where).order_by(col(Event.ts).desc()).limit(limit)
    return [EventPublic.model_validate(e) for e in session.exec(query)]


def _detection_query() -> Select[Any]:
    """Every detection column but the image bytes, and whether there is an image."""
    table = SQLModel.metadata.tables["detection"]
    columns = [c for c in table.columns if c.name != "thumbnail"]
    return select_columns(*columns, table.c.thumbnail.is_not(None).label("has_image"))


def detections(
    session: Session,
    device_id: str | None,
    label: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    crop: str | None = None,
    disease: str | None = None,
) -> list[DetectionPublic]:
    where = _window(col(Detection.ts), since, until)
    if device_id is not None:
        where.append(col(Detection.device_id) == device_id)
    if label is not None:
        where.append(col(Detection.label) == label)
    if crop is not None:
        where.append(col(Detection.crop) == crop)
    if disease is not None:
        where.append(col(Detection.disease) == disease)
    query = _detection_query().where(*where).order_by(col(Detection.ts).desc()).limit(limit)
    return [DetectionPublic.model_validate(dict(r._mapping)) for r in session.execute(query)]


def detection(session: Session, detection_id: int) -> DetectionPublic | None:
    row = session.execute(_detection_query().where(col(Detection.id) == detection_id)).first()
    return None if row is None else DetectionPublic.model_validate(dict(row._mapping))


def detection_image(session: Session, detection_id: int) -> bytes | None:
    image: bytes | None = session.exec(
        select(Detection.thumbnail).where(col(Detection.id) == detection_id)
    ).first()
    return image
