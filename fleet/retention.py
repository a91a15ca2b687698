"""Retention: raw readings older than ``AGRIFLEET_RETENTION_DAYS`` are deleted, the rollups kept.

Unset (the default), everything is kept. Set, a thread of the fleet deletes, once an hour,
readings whose device time lies more than that many days before now, in batches of their own
short transactions so ingestion and the API never wait long. The hourly and daily rollups
(fleet/rollups.py) stay: charts by hour or day go on showing past seasons.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, select
from sqlmodel import SQLModel

log = logging.getLogger(__name__)

#: Readings per DELETE transaction.
BATCH = 10_000
#: Seconds between two passes.
EVERY_S = 3600.0


def prune(engine: Engine, days: int, now: datetime | None = None, batch: int = BATCH) -> int:
    """Delete the readings dated before ``now - days``; returns how many."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    reading = SQLModel.metadata.tables["reading"]
    oldest = select(reading.c.id).where(reading.c.ts < cutoff).limit(batch)
    deleted = 0
    while True:
        with engine.begin() as conn:
            ids = conn.execute(oldest).scalars().all()
            if not ids:
                return deleted
            conn.execute(delete(reading).where(reading.c.id.in_(ids)))
        deleted += len(ids)


class Pruner:
    """The thread that runs :func:`prune` every ``every_s`` seconds until stopped."""

    def __init__(self, engine: Engine, days: int, every_s: float = EVERY_S) -> None:
        self.engine = engine
        self.days = days
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fleet-retention", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                n = prune(self.engine, self.days)
                if n:
                    log.info("retention: deleted %d readings older than %d days", n, self.days)
            except Exception:  # the database may be away; try again at the next pass
                log.exception("retention: could not delete old readings")
            self._stop.wait(self.every_s)
