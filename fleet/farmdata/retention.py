"""Retention: raw readings older than ``AGRIFLEET_RETENTION_DAYS`` are deleted, the rollups kept.

Unset (the default), everything is kept. Set, a thread of the fleet deletes, once an hour,
readings whose device time lies more than that many days before now. On PostgreSQL, whose
readings are partitioned by month (fleet/telemetry/partitions.py), the partitions of months that
ended before the cutoff are dropped whole; what is left older than the cutoff (in the month the
cutoff falls in, or in the default partition) is deleted in batches of their own short
transactions, as on SQLite, so ingestion and the API never wait long. The hourly and daily
rollups (fleet/telemetry/rollups.py) stay: charts by hour or day go on showing past seasons.

On PostgreSQL the same thread also makes the coming months' partitions at each pass, retention
set or not.

Each farm may keep its own days (fleet/farmdata/policy.py), for readings, photos and alerts;
``AGRIFLEET_RETENTION_DAYS`` and ``AGRIFLEET_PHOTO_RETENTION_DAYS`` /
``AGRIFLEET_ALERT_RETENTION_DAYS`` are the defaults of farms that set none. What goes for every
farm at once (whole partitions, the batches above) uses the longest days any farm keeps; a farm
that keeps fewer has its own devices' older readings deleted after.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, delete, select
from sqlmodel import SQLModel

from agrifleet.fleet.farmdata import export_jobs, policy
from agrifleet.fleet.telemetry import partitions

log = logging.getLogger(__name__)

#: Readings per DELETE transaction.
BATCH = 10_000
#: Seconds between two passes.
EVERY_S = 3600.0


@dataclass
class Pruned:
    """What one pass of retention removed."""

    #: Monthly partitions dropped whole (PostgreSQL).
    partitions: list[str] = field(default_factory=list)
    #: Readings deleted one batch at a time.
    deleted: int = 0
    #: What the farms' own policies removed.
    farms: policy.Applied = field(default_factory=policy.Applied)


def prune(engine: Engine, days: int, now: datetime | None = None, batch: int = BATCH) -> Pruned:
    """Drop the partitions of months before ``now - days``, then delete the older readings left."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    out = Pruned(partitions.drop_before(engine, cutoff))
    reading = SQLModel.metadata.tables["reading"]
    oldest = select(reading.c.id).where(reading.c.ts < cutoff).limit(batch)
    while True:
        with engine.begin() as conn:
            ids = conn.execute(oldest).scalars().all()
            if not ids:
                return out
            # The time as well: PostgreSQL then looks in the old partitions only.
            conn.execute(delete(reading).where(reading.c.id.in_(ids), reading.c.ts < cutoff))
        out.deleted += len(ids)


def needed(engine: Engine, days: int | None) -> bool:
    """Whether the fleet-wide part has work without any farm's policy: retention is set, or
    there are partitions to make. (The API process runs the thread always: farms may set their
    own days at any time.)"""
    return days is not None or engine.dialect.name == "postgresql"


class Pruner:
    """The thread that, every ``every_s`` seconds until stopped, makes the coming months'
    partitions (PostgreSQL), runs :func:`prune` for what every farm lets go, and applies each
    farm's own policy (:func:`fleet.farmdata.policy.apply_retention`)."""

    def __init__(self, engine: Engine, days: int | None, every_s: float = EVERY_S,
                 defaults: policy.Defaults | None = None, data_dir: Path | None = None) -> None:
        self.engine = engine
        self.days = days
        self.defaults = defaults or policy.Defaults(readings_days=days)
        self.data_dir = data_dir
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fleet-retention", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    def run_once(self, now: datetime | None = None) -> Pruned:
        partitions.ensure(self.engine)
        farms = policy.policies(self.engine, self.defaults)
        days = policy.widest_readings_days(farms) if farms else self.days
        done = Pruned() if days is None else prune(self.engine, days, now)
        if done.partitions:
            log.info("retention: dropped the partitions %s (readings older than %d days)",
                     ", ".join(done.partitions), days)  # fmt: skip
        if done.deleted:
            log.info("retention: deleted %d readings older than %d days", done.deleted, days)
        done.farms = applied = policy.apply_retention(self.engine, self.data_dir, farms, days, now)
        if self.data_dir is not None and (swept := export_jobs.sweep(self.data_dir, now)):
            log.info("retention: removed %d prepared farm exports", swept)
        if applied.farms:
            log.info("retention: farms %s: deleted %d readings and %d alerts, removed %d "
                     "thumbnails and %d photos by their days",
                     applied.farms, applied.readings, applied.alerts, applied.thumbnails,
                     applied.photos)  # fmt: skip
        return done

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # the database may be away; try again at the next pass
                log.exception("retention: could not make partitions or delete old readings")
            self._stop.wait(self.every_s)
