"""The SQL of one write transaction, the same on SQLite and PostgreSQL: idempotent bulk inserts,
latest readings, boots' received seqs, device state, and the fleet's own events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, bindparam, func, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect
from sqlmodel import SQLModel

from fleet import gaps
from fleet.parse import CheckedStatus, Reading
from fleet.rows import READING_COLUMNS, BootKey, Rows, SeriesKey

BootState = tuple[datetime, list[list[int]]]  # first seen, received seq ranges
#: The boot id of events the fleet records itself (they carry negative seqs of their own).
FLEET_BOOT = "fleet"
_TABLES = {"reading": "reading", "detection": "detection", "event": "event",
           "update": "modelupdate"}  # fmt: skip
#: Seqs per ``IN (…)`` list, well under SQLite's limit on bound parameters.
_CHUNK = 500


class Store:
    """The tables the writer fills, and the statements it runs on them."""

    def __init__(self, engine: Engine) -> None:
        tables = SQLModel.metadata.tables
        self.items: dict[str, Table] = {kind: tables[name] for kind, name in _TABLES.items()}
        self.t_latest: Table = tables["latestreading"]
        self.t_boot: Table = tables["deviceboot"]
        self.t_device: Table = tables["device"]
        dialect = engine.dialect.name
        if dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database dialect {dialect!r}")
        self.sqlite_time = dialect == "sqlite"  # SQLite stores times as text
        self._insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
        self._count_by_returning = dialect == "postgresql"
        # Readings go straight to the driver's executemany as tuples, skipping SQLAlchemy's
        # per-row parameter processing (most of the cost at 10k readings/s).
        positional = (
            engine.dialect if dialect == "sqlite" else psycopg_dialect.dialect(paramstyle="format")
        )
        compiled = (
            self._insert(self.items["reading"])
            .on_conflict_do_nothing()
            .compile(dialect=positional, column_keys=list(READING_COLUMNS), for_executemany=True)
        )
        if tuple(compiled.positiontup or ()) != READING_COLUMNS:
            raise RuntimeError(f"unexpected reading columns {compiled.positiontup}")
        self._reading_sql = str(compiled)

    def insert_new(self, conn: Connection, kind: str, rows: list[Any]) -> int:
        """Bulk INSERT … ON CONFLICT DO NOTHING; returns how many rows were new."""
        if not rows:
            return 0
        table = self.items[kind]
        if kind == "reading":  # tuples in READING_COLUMNS order
            return int(conn.exec_driver_sql(self._reading_sql, rows).rowcount)
        stmt = self._insert(table).on_conflict_do_nothing()
        if self._count_by_returning:  # psycopg reports no row count for executemany
            return len(conn.execute(stmt.returning(table.c.id), rows).all())
        return int(conn.execute(stmt, rows).rowcount)

    def stored_content(
        self, conn: Connection, kind: str, device_id: str, boot_id: str, seqs: list[int],
        columns: list[str],
    ) -> dict[int, tuple[Any, ...]]:
        """seq → the given columns of the stored items of one boot with these seqs.

        Readings are read at the driver level, times as the database holds them (the text
        the writer wrote on SQLite), to compare with the writer's rows as they are.
        """
        t = self.items[kind]
        found: dict[int, tuple[Any, ...]] = {}
        ordered = sorted(set(seqs))
        for start in range(0, len(ordered), _CHUNK):
            chunk = ordered[start : start + _CHUNK]
            if kind == "reading":
                mark = "?" if self.sqlite_time else "%s"
                # Only our own column names and placeholders are formatted in; values are bound.
                marks = ", ".join([mark] * len(chunk))
                sql = (f"SELECT seq, {', '.join(columns)} FROM reading "  # noqa: S608
                       f"WHERE device_id = {mark} AND boot_id = {mark} AND seq IN ({marks})")
                result = conn.exec_driver_sql(sql, (device_id, boot_id, *chunk))
            else:
                result = conn.execute(select(t.c.seq, *(t.c[c] for c in columns)).where(
                    t.c.device_id == device_id, t.c.boot_id == boot_id, t.c.seq.in_(chunk)
                ))  # fmt: skip
            for seq, *content in result:
                found[seq] = tuple(content)
        return found

    def correct_times(self, conn: Connection, kind: str, fixes: list[dict[str, Any]]) -> None:
        """Give stored items the corrected time a node sent once its clock was synchronised."""
        if not fixes:
            return
        t = self.items[kind]
        conn.execute(
            update(t)
            .where(t.c.device_id == bindparam("b_dev"), t.c.boot_id == bindparam("b_boot"),
                   t.c.seq == bindparam("b_seq"))
            .values(ts=bindparam("b_ts"), clock_synced=True, future=bindparam("b_future")),
            fixes,
        )  # fmt: skip

    def add_fleet_events(self, conn: Connection, events: list[dict[str, Any]]) -> None:
        """Store events the fleet raised about a device, numbered -1, -2, … per device."""
        if not events:
            return
        t = self.items["event"]
        lowest: dict[str, int] = {}
        for e in events:
            dev = e["device_id"]
            if dev not in lowest:
                query = select(func.min(t.c.seq)).where(
                    t.c.device_id == dev, t.c.boot_id == FLEET_BOOT
                )
                lowest[dev] = min(conn.execute(query).scalar() or 0, 0)
            lowest[dev] -= 1
            e.update(boot_id=FLEET_BOOT, seq=lowest[dev])
        conn.execute(self._insert(t), events)

    def upsert_latest(
        self, conn: Connection, latest: dict[SeriesKey, tuple[datetime, Reading, str]]
    ) -> None:
        if not latest:
            return
        t = self.t_latest
        ins = self._insert(t)
        stmt = ins.on_conflict_do_update(
            index_elements=[t.c.device_id, t.c.sensor, t.c.quantity],
            set_={c: ins.excluded[c] for c in ("value", "unit", "ts", "boot_id", "seq")},
            where=ins.excluded.ts >= t.c.ts,
        )
        rows = [
            {"device_id": dev, "sensor": sensor, "quantity": quantity, "value": r.value,
             "unit": r.unit, "ts": ts, "boot_id": boot, "seq": r.seq}
            for (dev, sensor, quantity), (ts, r, boot) in latest.items()
        ]  # fmt: skip
        conn.execute(stmt, rows)

    def load_boots(self, conn: Connection, keys: list[BootKey]) -> dict[BootKey, BootState]:
        t = self.t_boot
        found: dict[BootKey, BootState] = {}
        for start in range(0, len(keys), _CHUNK):
            rows = conn.execute(
                select(t.c.device_id, t.c.boot_id, t.c.first_seen, t.c.ranges).where(
                    tuple_(t.c.device_id, t.c.boot_id).in_(keys[start : start + _CHUNK])
                )
            )
            for dev, boot, first_seen, ranges in rows:
                found[(dev, boot)] = (first_seen, ranges)
        return found

    def update_boots(
        self,
        conn: Connection,
        known: dict[BootKey, BootState],
        boot_seqs: dict[BootKey, list[int]],
        now: datetime,
    ) -> dict[BootKey, BootState]:
        """Merge the received seqs into each boot's ranges; returns the boots' new state."""
        if not boot_seqs:
            return {}
        updated: dict[BootKey, BootState] = {}
        values = []
        for (dev, boot), seqs in boot_seqs.items():
            first_seen, old = known.get((dev, boot), (now, []))
            ranges = gaps.merge_ranges(old, seqs)
            updated[(dev, boot)] = (first_seen, ranges)
            values.append(
                {
                    "device_id": dev,
                    "boot_id": boot,
                    "first_seen": first_seen,
                    "last_seen": now,
                    "received": gaps.count(ranges),
                    "highest_seq": ranges[-1][1],
                    "ranges": ranges,
                }
            )
        t = self.t_boot
        ins = self._insert(t)
        stmt = ins.on_conflict_do_update(
            index_elements=[t.c.device_id, t.c.boot_id],
            set_={c: ins.excluded[c] for c in ("last_seen", "received", "highest_seq", "ranges")},
        )
        conn.execute(stmt, values)
        return updated

    def update_devices(self, conn: Connection, rows: Rows) -> None:
        """Devices heard from are seen now; a status sets online, boot and health."""
        t = self.t_device
        seen = sorted(rows.devices - set(rows.statuses))
        now = rows.now
        if seen:
            conn.execute(
                update(t).where(t.c.id == bindparam("b_id")).values(last_seen=bindparam("b_now")),
                [{"b_id": dev, "b_now": now} for dev in seen],
            )
        for dev, c in rows.statuses.items():
            self._apply_status(conn, dev, c, now)

    def _apply_status(self, conn: Connection, dev: str, c: CheckedStatus, now: datetime) -> None:
        s = c.status
        values: dict[str, Any] = {
            "online": s.state == "online",
            "boot_id": s.boot_id,
            "status_at": s.ts if s.ts else now,
        }
        if s.health is not None:  # the last will carries none: keep the last known
            values["health"] = s.health.model_dump(mode="json")
        if s.state == "online":
            values["last_seen"] = now
        t = self.t_device
        conn.execute(update(t).where(t.c.id == dev).values(**values))
