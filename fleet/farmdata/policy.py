"""Each farm's data policy: how many days raw readings, photos and alerts are kept (unset: the
fleet-wide default from the settings), and whether its confirmed photos may train models.

:func:`apply_retention` is what the retention thread (:mod:`fleet.farmdata.retention`) runs per
farm each
pass: raw readings older than the farm's days are deleted (rollups stay); detections' thumbnails
and scouting photos older than its photo days are removed (the rows and the model's answers
stay; an observation whose photo is gone has ``photo_bytes`` 0); cleared alerts whose last
sighting is older than its alert days are deleted (open alerts stay).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Select, and_, delete, or_, select, update
from sqlmodel import Session
from sqlmodel import select as select_rows

from agrifleet.fleet.farmdata.contents import ALERT, DETECTION, DEVICE, FARM, OBSERVATION, READING
from agrifleet.fleet.farmdata.tables import DataPolicyPublic, Days, FarmDataPolicy, RetentionDays
from agrifleet.fleet.modelops.observations import PhotoStore
from agrifleet.fleet.settings import FleetSettings

log = logging.getLogger(__name__)

#: Rows per transaction.
BATCH = 5_000




@dataclass(frozen=True)
class Defaults:
    """The fleet-wide days (settings); None keeps forever."""

    readings_days: Days = None
    photos_days: Days = None
    alerts_days: Days = None


def defaults_of(settings: FleetSettings) -> Defaults:
    return Defaults(settings.retention_days, settings.photo_retention_days,
                    settings.alert_retention_days)


def effective(row: FarmDataPolicy | None, defaults: Defaults) -> RetentionDays:
    def pick(name: str) -> Days:
        own = getattr(row, name) if row is not None else None
        return own if own is not None else getattr(defaults, name)

    return RetentionDays(readings_days=pick("readings_days"), photos_days=pick("photos_days"),
                         alerts_days=pick("alerts_days"))


def public(farm_id: int, row: FarmDataPolicy | None, defaults: Defaults) -> DataPolicyPublic:
    own = RetentionDays(readings_days=row.readings_days if row else None,
                        photos_days=row.photos_days if row else None,
                        alerts_days=row.alerts_days if row else None)
    return DataPolicyPublic(
        farm_id=farm_id, own=own,
        defaults=RetentionDays(readings_days=defaults.readings_days,
                               photos_days=defaults.photos_days,
                               alerts_days=defaults.alerts_days),
        effective=effective(row, defaults),
        training_consent=bool(row and row.training_consent),
        consent_by=row.consent_by if row else None, consent_at=row.consent_at if row else None,
        updated_by=row.updated_by if row else None, updated_at=row.updated_at if row else None)


# --- applying it ----------------------------------------------------------------------------


@dataclass
class Applied:
    """What one pass removed, over all farms."""

    readings: int = 0
    thumbnails: int = 0
    photos: int = 0
    alerts: int = 0
    farms: list[int] = field(default_factory=list)


def policies(engine: Engine, defaults: Defaults) -> dict[int, RetentionDays]:
    """Every farm's effective days."""
    with Session(engine) as session:
        farms = list(session.execute(select(FARM.c.id)).scalars())
        rows = {r.farm_id: r for r in session.exec(select_rows(FarmDataPolicy))}
    return {farm: effective(rows.get(farm), defaults) for farm in farms}


def widest_readings_days(days: dict[int, RetentionDays]) -> Days:
    """The days every farm keeps at least (what may go for all farms at once, e.g. whole
    monthly partitions); None when some farm keeps its readings for ever."""
    values = [d.readings_days for d in days.values()]
    if not values or any(v is None for v in values):
        return None
    return max(v for v in values if v is not None)


def _farm_devices(farm_id: int) -> Select[Any]:
    return select(DEVICE.c.id).where(DEVICE.c.farm_id == farm_id)


def _delete_readings(engine: Engine, farm_id: int, cutoff: datetime, batch: int) -> int:
    where = [READING.c.device_id.in_(_farm_devices(farm_id)), READING.c.ts < cutoff]
    done = 0
    while True:
        with engine.begin() as conn:
            ids = list(conn.execute(select(READING.c.id).where(*where).limit(batch)).scalars())
            if not ids:
                return done
            conn.execute(delete(READING).where(READING.c.id.in_(ids), *where))
        done += len(ids)


def _remove_thumbnails(engine: Engine, farm_id: int, cutoff: datetime, batch: int) -> int:
    where = [DETECTION.c.device_id.in_(_farm_devices(farm_id)), DETECTION.c.ts < cutoff,
             DETECTION.c.thumbnail.is_not(None)]
    done = 0
    while True:
        with engine.begin() as conn:
            ids = list(conn.execute(select(DETECTION.c.id).where(*where).limit(batch)).scalars())
            if not ids:
                return done
            conn.execute(update(DETECTION).where(DETECTION.c.id.in_(ids)).values(thumbnail=None))
        done += len(ids)


def _remove_photos(engine: Engine, farm_id: int, cutoff: datetime, photos: PhotoStore,
                   batch: int) -> int:
    where = [OBSERVATION.c.farm_id == farm_id, OBSERVATION.c.taken_at < cutoff,
             OBSERVATION.c.photo_bytes > 0]
    done = 0
    while True:
        with engine.begin() as conn:
            rows = conn.execute(select(OBSERVATION.c.id, OBSERVATION.c.photo_path)
                                .where(*where).limit(batch)).all()
            if not rows:
                return done
            conn.execute(update(OBSERVATION).where(OBSERVATION.c.id.in_([r[0] for r in rows]))
                         .values(photo_bytes=0))
        for _id, name in rows:
            photos.remove(name)
        done += len(rows)


def _delete_alerts(engine: Engine, farm_id: int, cutoff: datetime, batch: int) -> int:
    mine = or_(ALERT.c.farm_id == farm_id,
               and_(ALERT.c.farm_id.is_(None), ALERT.c.device_id.in_(_farm_devices(farm_id))))
    where = [mine, ALERT.c.state == "cleared", ALERT.c.last_seen < cutoff]
    done = 0
    while True:
        with engine.begin() as conn:
            ids = list(conn.execute(select(ALERT.c.id).where(*where).limit(batch)).scalars())
            if not ids:
                return done
            conn.execute(delete(ALERT).where(ALERT.c.id.in_(ids)))
        done += len(ids)


def apply_retention(engine: Engine, data_dir: Path | None, days: dict[int, RetentionDays],
                    readings_done_for_all: Days, now: datetime | None = None,
                    batch: int = BATCH) -> Applied:
    """Each farm's days; readings only where the farm keeps fewer days than
    ``readings_done_for_all`` (already pruned for every farm) or that is None; photos only
    with the ``data_dir`` they are in."""
    moment = now or datetime.now(UTC)
    out = Applied()
    for farm_id, farm in sorted(days.items()):
        before = (out.readings, out.thumbnails, out.photos, out.alerts)
        keep = farm.readings_days
        if keep is not None and (readings_done_for_all is None or keep < readings_done_for_all):
            out.readings += _delete_readings(engine, farm_id, moment - timedelta(days=keep),
                                             batch)
        if farm.photos_days is not None and data_dir is not None:
            cutoff = moment - timedelta(days=farm.photos_days)
            out.thumbnails += _remove_thumbnails(engine, farm_id, cutoff, batch)
            out.photos += _remove_photos(engine, farm_id, cutoff, PhotoStore(data_dir), batch)
        if farm.alerts_days is not None:
            out.alerts += _delete_alerts(engine, farm_id,
                                         moment - timedelta(days=farm.alerts_days), batch)
        if (out.readings, out.thumbnails, out.photos, out.alerts) != before:
            out.farms.append(farm_id)
    return out
