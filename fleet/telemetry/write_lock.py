"""How a writer shares the database: alone (one ingesting process) or beside other workers.

The writer asks its lock policy two things in every transaction: to lock what the rows touch
before anything is written, and whether the boots' received seqs must be read as committed
(another worker may have stored them since this writer cached them).
"""

from __future__ import annotations

from sqlalchemy import Connection

from agrifleet.fleet.telemetry.rows import Rows

#: The devices of a transaction, locked before anything is written (fixed text: an array).
_LOCK_DEVICES = "SELECT id FROM device WHERE id = ANY(%s) ORDER BY id FOR UPDATE"


class WriteLock:
    """The sole writer of a database: nothing to lock, its cache of boots is the truth."""

    #: Read the boots' ranges from the database in every transaction, never from the cache.
    reads_committed_boots = False

    def before_write(self, conn: Connection, rows: Rows) -> None:
        """Lock what ``rows`` touch, inside the transaction of ``conn`` (nothing here)."""


class SharedDevicesLock(WriteLock):
    """One of several workers on one PostgreSQL database (SQLite has one writer at a time).

    The devices of a transaction are locked in id order (so never a deadlock) before anything
    is written, and the boots' ranges are read inside that lock: a shared subscription hands one
    device's messages to any worker, and a boot's ranges are merged read-modify-write.
    """

    reads_committed_boots = True

    def before_write(self, conn: Connection, rows: Rows) -> None:
        if conn.dialect.name == "postgresql" and rows.devices:
            # ORDER BY before FOR UPDATE: every worker locks in the same order.
            conn.exec_driver_sql(_LOCK_DEVICES, (sorted(rows.devices),))


#: The default: one ingesting process.
SOLE_WRITER = WriteLock()
