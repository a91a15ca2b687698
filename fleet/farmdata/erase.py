"""Erase a farm's data on its admin's request: a device's, a field's or the whole farm's,
optionally only what is dated before a moment.

Erased: raw readings (and the latest-reading cache), hourly and daily rollups, detections with
their thumbnails and verdicts, events, scouting observations with their verdicts and photo
files, alerts.
Kept: the devices, fields and people themselves, rollouts, and the audit log, which gains one
``farm.erase`` entry with who asked, the scope and the counts (nothing of what was erased).

Rows go in batches of their own short transactions (ingestion and the API never wait long);
photo files are removed after the rows naming them are gone. With ``before``, rollups of
hours and days wholly before it are erased and the hour and day it falls in are counted again
from the readings left.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Engine, Table, and_, delete, false, or_, select
from sqlmodel import Session

from agrifleet.fleet.farmdata import export_jobs
from agrifleet.fleet.farmdata.contents import (
    ALERT,
    DETECTION,
    DEVICE,
    EVENT,
    OBSERVATION,
    OBSERVATION_VERDICT,
    READING,
    VERDICT,
    table_of,
)
from agrifleet.fleet.modelops.observations import PhotoStore
from agrifleet.fleet.people import audit
from agrifleet.fleet.telemetry import rollups
from agrifleet.fleet.telemetry.tables import LatestReading

#: Rows per DELETE transaction.
BATCH = 5_000
LATEST = table_of(LatestReading)


@dataclass(frozen=True)
class EraseScope:
    """What to erase: one farm, narrowed to one device or one field, and to before a moment."""

    farm_id: int
    device_id: str | None = None
    field_id: int | None = None
    before: datetime | None = None

    def describe(self) -> dict[str, Any]:
        return {"farm_id": self.farm_id, "device_id": self.device_id, "field_id": self.field_id,
                "before": self.before.isoformat() if self.before else None}


@dataclass
class Erased:
    """How many of each were erased."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, what: str, n: int) -> None:
        self.counts[what] = self.counts.get(what, 0) + n


def _devices(engine: Engine, scope: EraseScope) -> list[str]:
    query = select(DEVICE.c.id).where(DEVICE.c.farm_id == scope.farm_id)
    if scope.device_id is not None:
        query = query.where(DEVICE.c.id == scope.device_id)
    elif scope.field_id is not None:
        query = query.where(DEVICE.c.field_id == scope.field_id)
    with engine.connect() as conn:
        return list(conn.execute(query).scalars())


def _before(column: Any, scope: EraseScope) -> list[ColumnElement[bool]]:
    return [] if scope.before is None else [column < scope.before]


def _in_batches(engine: Engine, table: Table, where: Sequence[ColumnElement[bool]],
                before_delete: Any = None, batch: int = BATCH) -> int:
    """Delete the rows matching ``where`` by id, ``batch`` at a time; how many."""
    done = 0
    while True:
        with engine.begin() as conn:
            ids = list(conn.execute(select(table.c.id).where(*where).limit(batch)).scalars())
            if not ids:
                return done
            if before_delete is not None:
                before_delete(conn, ids)
            conn.execute(delete(table).where(table.c.id.in_(ids), *where))
        done += len(ids)


def _readings(engine: Engine, devices: list[str], scope: EraseScope, out: Erased) -> None:
    where = [READING.c.device_id.in_(devices), *_before(READING.c.ts, scope)]
    out.add("readings", _in_batches(engine, READING, where))
    with engine.begin() as conn:
        gone = conn.execute(delete(LATEST).where(LATEST.c.device_id.in_(devices),
                                                 *_before(LATEST.c.ts, scope)))
        out.add("latest_readings", gone.rowcount or 0)
        for width, name in rollups.WIDTHS.items():
            t = rollups.table(width)
            whole = ([] if scope.before is None
                     else [t.c.bucket <= scope.before - timedelta(seconds=width)])
            gone = conn.execute(delete(t).where(t.c.device_id.in_(devices), *whole))
            out.add(name.replace("reading_", "readings_"), gone.rowcount or 0)
            if scope.before is not None:  # the hour and the day ``before`` falls in
                straddling = conn.execute(select(t.c.device_id, t.c.sensor, t.c.quantity,
                                                 t.c.bucket).where(
                    t.c.device_id.in_(devices), t.c.bucket < scope.before)).all()
                rollups.recount(conn, {(width, d, s, q, int(b.timestamp()))
                                       for d, s, q, b in straddling})


def _detections(engine: Engine, devices: list[str], scope: EraseScope, out: Erased) -> None:
    def verdicts_first(conn: Any, ids: list[int]) -> None:
        gone = conn.execute(delete(VERDICT).where(VERDICT.c.detection_id.in_(ids)))
        out.add("verdicts", gone.rowcount or 0)

    where = [DETECTION.c.device_id.in_(devices), *_before(DETECTION.c.ts, scope)]
    out.add("verdicts", 0)
    out.add("detections", _in_batches(engine, DETECTION, where, verdicts_first))
    where = [EVENT.c.device_id.in_(devices), *_before(EVENT.c.ts, scope)]
    out.add("events", _in_batches(engine, EVENT, where))


def _observations(engine: Engine, scope: EraseScope, photos: PhotoStore, out: Erased) -> None:
    if scope.device_id is not None:  # scouting photos come from people's phones
        out.add("observation_verdicts", 0)
        out.add("observations", 0)
        out.add("photo_files", 0)
        return
    where = [OBSERVATION.c.farm_id == scope.farm_id,
             *_before(OBSERVATION.c.taken_at, scope)]
    if scope.field_id is not None:
        where.append(OBSERVATION.c.field_id == scope.field_id)
    names: list[str] = []

    def keep_names(conn: Any, ids: list[int]) -> None:
        names.extend(conn.execute(select(OBSERVATION.c.photo_path)
                                  .where(OBSERVATION.c.id.in_(ids))).scalars())
        gone = conn.execute(delete(OBSERVATION_VERDICT)
                            .where(OBSERVATION_VERDICT.c.observation_id.in_(ids)))
        out.add("observation_verdicts", gone.rowcount or 0)

    out.add("observation_verdicts", 0)
    out.add("observations", _in_batches(engine, OBSERVATION, where, keep_names))
    removed = 0
    for name in names:
        for path in (photos.path(name), photos.thumb_path(name)):
            if path.exists():
                path.unlink()
                removed += 1
    out.add("photo_files", removed)


def _alerts(engine: Engine, devices: list[str], scope: EraseScope, out: Erased) -> None:
    mine: ColumnElement[bool] = ALERT.c.device_id.in_(devices) if devices else false()
    if scope.device_id is None and scope.field_id is None:
        mine = or_(mine, ALERT.c.farm_id == scope.farm_id)
    elif scope.field_id is not None:
        mine = or_(mine, and_(ALERT.c.farm_id == scope.farm_id,
                              ALERT.c.field_id == scope.field_id))
    out.add("alerts", _in_batches(engine, ALERT, [mine, *_before(ALERT.c.last_seen, scope)]))


def erase(engine: Engine, data_dir: Path, scope: EraseScope, actor: Any,
          address: str | None = None) -> tuple[Erased, int]:
    """Erase what ``scope`` names; the counts and the id of the audit entry recording them."""
    out = Erased()
    devices = _devices(engine, scope)
    _readings(engine, devices, scope, out)
    _detections(engine, devices, scope, out)
    _observations(engine, scope, PhotoStore(data_dir), out)
    _alerts(engine, devices, scope, out)
    if removed := export_jobs.remove_farm(data_dir, scope.farm_id):  # they hold what went
        out.add("prepared_exports", removed)
    with Session(engine) as session:
        entry = audit.record(session, actor, "farm.erase", f"farm {scope.farm_id}", address,
                             scope=scope.describe(), devices=len(devices), counts=out.counts)
        session.commit()
        assert entry.id is not None
        return out, entry.id

