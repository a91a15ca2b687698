"""The SQL of one write transaction, the same on SQLite and PostgreSQL: idempotent bulk inserts,
latest readings, boots' received seqs, device state, and the fleet's own events.

Readings, the bulk of the traffic, skip SQLAlchemy's per-row work: on PostgreSQL they are
``COPY``-ed (fleet/telemetry/staging.py); on SQLite they go in multi-row ``INSERT … RETURNING``
statements.
Either way the store knows which rows were new, so the rollups count each reading once however
often its batch is delivered.

On PostgreSQL readings are partitioned by month of ``ts`` (fleet/telemetry/partitions.py), and a
unique
constraint there must hold the partition key: ``uq_reading_item`` is (device, boot, seq, ts),
which alone would store again a reading whose time a clock correction changed since. So the
insert keeps (device, boot, seq) unique itself: it locks the rows of the readings' devices
first (in id order, as fleet/telemetry/workers.py does), so that two transactions storing one
device's
readings run one after the other, the second seeing what the first stored; then it reads the
highest seq stored of each boot. A reading above it is new (what live traffic and backlogs
send): those are ``COPY``-ed straight into the partitions. The others (resends, mostly) are
staged and moved by one ``INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING`` that looks each
up in every partition; the constraint still catches an equal copy.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, bindparam, func, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect
from sqlmodel import SQLModel

from agrifleet.fleet.telemetry import gaps, staging
from agrifleet.fleet.telemetry.parse import CheckedStatus, Reading
from agrifleet.fleet.telemetry.rows import READING_COLUMNS, BootKey, Rows, SeriesKey

BootState = tuple[datetime, list[list[int]]]  # first seen, received seq ranges
#: The boot id of events the fleet records itself (they carry negative seqs of their own).
FLEET_BOOT = "fleet"
_TABLES = {"reading": "reading", "detection": "detection", "event": "event",
           "update": "modelupdate"}  # fmt: skip
#: Seqs per ``IN (…)`` list, well under SQLite's limit on bound parameters.
_CHUNK = 500
#: Reading rows per SQLite statement: 12 parameters each, under SQLite's 32,766.
_SQLITE_ROWS = 2000
#: PostgreSQL types of READING_COLUMNS, for binary COPY.
_READING_PG_TYPES = ("text", "text", "int8", "timestamptz", "float8", "bool", "bool", "text",
                    "text", "float8", "text", "timestamptz")  # fmt: skip
#: READING_COLUMNS with their PostgreSQL types (fleet/telemetry/staging.py).
READING_PG_COLUMNS = tuple(zip(READING_COLUMNS, _READING_PG_TYPES, strict=True))
_COLUMNS = ", ".join(READING_COLUMNS)
#: The devices' rows locked before their readings are stored (see the module's docstring).
_LOCK_DEVICES_PG = "SELECT id FROM device WHERE id = ANY(%s) ORDER BY id FOR NO KEY UPDATE"
#: The highest seq stored of each (device, boot): one index probe per partition and boot.
_TOPS_PG = (
    "SELECT b.device_id, b.boot_id, (SELECT max(r.seq) FROM reading r WHERE r.device_id = "
    "b.device_id AND r.boot_id = b.boot_id) FROM unnest(%s::text[], %s::text[]) AS "
    "b(device_id, boot_id)"
)
#: Staged readings not stored yet, into ``reading``. ``top`` is the highest seq stored of each
#: boot (one index probe per partition and boot); a seq at or below it is looked up in every
#: partition. A scalar subquery with LIMIT, never ``NOT EXISTS``: that one the planner may turn
#: into a hash (anti-)join that reads the whole table.
_INSERT_PG = (  # only our column names are formatted in
    "WITH boots AS MATERIALIZED (SELECT b.device_id, b.boot_id, (SELECT max(r.seq) FROM reading "  # noqa: S608
    "r WHERE r.device_id = b.device_id AND r.boot_id = b.boot_id) AS top FROM (SELECT DISTINCT "
    "device_id, boot_id FROM reading_in) b) "
    f"INSERT INTO reading ({_COLUMNS}) SELECT {', '.join('s.' + c for c in READING_COLUMNS)} "
    "FROM reading_in s JOIN boots b ON b.device_id = s.device_id AND b.boot_id = s.boot_id "
    "WHERE b.top IS NULL OR s.seq > b.top OR (SELECT 1 FROM reading r WHERE r.device_id = "
    "s.device_id AND r.boot_id = s.boot_id AND r.seq = s.seq LIMIT 1) IS NULL "
    "ON CONFLICT DO NOTHING RETURNING device_id, boot_id, seq"
)
_LATEST_STAGING = (("device_id", "text"), ("sensor", "text"), ("quantity", "text"),
                   ("value", "float8"), ("unit", "text"), ("ts", "timestamptz"),
                   ("boot_id", "text"), ("seq", "int8"))  # fmt: skip
_LATEST_PG = (
    "INSERT INTO latestreading AS t (device_id, sensor, quantity, value, unit, ts, boot_id, seq) "
    "SELECT device_id, sensor, quantity, value, unit, ts, boot_id, seq FROM latest_in "
    "ON CONFLICT (device_id, sensor, quantity) DO UPDATE SET value = excluded.value, "
    "unit = excluded.unit, ts = excluded.ts, boot_id = excluded.boot_id, seq = excluded.seq "
    "WHERE excluded.ts >= t.ts"
)
_LOAD_BOOTS_PG = (
    "SELECT device_id, boot_id, first_seen, ranges FROM deviceboot WHERE (device_id, boot_id) "
    "IN (SELECT * FROM unnest(%s::text[], %s::text[]))"
)
_SEEN_PG = "UPDATE device SET last_seen = %s WHERE id = ANY(%s)"
_BOOT_STAGING = (("device_id", "text"), ("boot_id", "text"), ("first_seen", "timestamptz"),
                 ("last_seen", "timestamptz"), ("received", "int8"), ("highest_seq", "int8"),
                 ("ranges", "text"))  # fmt: skip
_BOOTS_PG = (
    "INSERT INTO deviceboot (device_id, boot_id, first_seen, last_seen, received, highest_seq, "
    "ranges) SELECT device_id, boot_id, first_seen, last_seen, received, highest_seq, "
    "ranges::json FROM boot_in ON CONFLICT (device_id, boot_id) DO UPDATE SET "
    "last_seen = excluded.last_seen, received = excluded.received, "
    "highest_seq = excluded.highest_seq, ranges = excluded.ranges"
)


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
        # Readings go straight to the driver as tuples, skipping SQLAlchemy's per-row
        # parameter processing (most of the cost at 10k readings/s): check their columns.
        positional = (
            engine.dialect if dialect == "sqlite" else psycopg_dialect.dialect(paramstyle="format")
        )
        compiled = self._insert(self.items["reading"]).compile(
            dialect=positional, column_keys=list(READING_COLUMNS), for_executemany=True
        )
        if tuple(compiled.positiontup or ()) != READING_COLUMNS:
            raise RuntimeError(f"unexpected reading columns {compiled.positiontup}")
        self._sqlite_sql: dict[int, str] = {}

    def insert_readings(self, conn: Connection, rows: list[tuple[Any, ...]]) -> list[int]:
        """Insert reading tuples (READING_COLUMNS order) not stored yet; the indexes of the new.

        A (device, boot, seq) already stored, or given twice, is left alone (only its first
        occurrence can be new): the caller tells a resend from a conflict
        (fleet/telemetry/conflicts.py).
        """
        first: dict[tuple[str, str, int], int] = {}
        for i, row in enumerate(rows):
            first.setdefault((row[0], row[1], row[2]), i)
        unique = rows if len(first) == len(rows) else [rows[i] for i in first.values()]
        if not unique:
            return []
        if self.sqlite_time:
            new = self._insert_sqlite(conn, unique)
        else:
            new = self._insert_postgres(conn, unique)
        return sorted(first[(dev, boot, seq)] for dev, boot, seq in new)

    def _insert_postgres(self, conn: Connection, rows: list[tuple[Any, ...]]) -> list[Any]:
        driver: Any = conn.connection.dbapi_connection
        boots = sorted({(row[0], row[1]) for row in rows})
        with driver.cursor() as cursor:
            cursor.execute(_LOCK_DEVICES_PG, (sorted({dev for dev, _ in boots}),))
            cursor.execute(_TOPS_PG, ([dev for dev, _ in boots], [boot for _, boot in boots]))
            tops = {(dev, boot): top for dev, boot, top in cursor.fetchall()}
        fresh: list[tuple[Any, ...]] = []
        maybe: list[tuple[Any, ...]] = []
        for row in rows:
            top = tops.get((row[0], row[1]))
            (fresh if top is None or row[2] > top else maybe).append(row)
        new: list[Any] = [row[:3] for row in fresh]
        if fresh:  # above the boot's highest stored seq: new, straight into the partitions
            staging.copy_rows(conn, "reading", READING_PG_COLUMNS, fresh)
        if maybe:  # resends, mostly: each looked up
            staging.stage(conn, "reading_in", READING_PG_COLUMNS, maybe)
            with driver.cursor() as cursor:
                cursor.execute(_INSERT_PG)
                new.extend(cursor.fetchall())
        return new

    def _insert_sqlite(self, conn: Connection, rows: list[tuple[Any, ...]]) -> list[Any]:
        new: list[Any] = []
        for start in range(0, len(rows), _SQLITE_ROWS):
            chunk = rows[start : start + _SQLITE_ROWS]
            sql = self._sqlite_sql.get(len(chunk))
            if sql is None:
                marks = "(" + ", ".join(["?"] * len(READING_COLUMNS)) + ")"
                sql = self._sqlite_sql[len(chunk)] = (
                    f"INSERT INTO reading ({_COLUMNS}) VALUES "  # noqa: S608
                    + ", ".join([marks] * len(chunk))
                    + " ON CONFLICT DO NOTHING RETURNING device_id, boot_id, seq"
                )
            params = tuple(value for row in chunk for value in row)
            new.extend(conn.exec_driver_sql(sql, params).fetchall())
        return new

    def insert_new(self, conn: Connection, kind: str, rows: list[Any]) -> int:
        """Bulk INSERT … ON CONFLICT DO NOTHING; returns how many rows were new."""
        if not rows:
            return 0
        if kind == "reading":  # tuples in READING_COLUMNS order
            return len(self.insert_readings(conn, rows))
        table = self.items[kind]
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
        if not self.sqlite_time:  # one COPY and one statement, whatever the number of series
            staging.stage(conn, "latest_in", _LATEST_STAGING, (
                (dev, sensor, quantity, r.value, r.unit, ts, boot, r.seq)
                for (dev, sensor, quantity), (ts, r, boot) in latest.items()
            ))  # fmt: skip
            conn.exec_driver_sql(_LATEST_PG)
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
        if not self.sqlite_time and keys:  # one statement of fixed text: arrays, not IN lists
            result = conn.exec_driver_sql(
                _LOAD_BOOTS_PG, ([dev for dev, _ in keys], [boot for _, boot in keys])
            )
            for dev, boot, first_seen, ranges in result:
                found[(dev, boot)] = (first_seen.astimezone(UTC), ranges)
            return found
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
        if not self.sqlite_time:
            staging.stage(conn, "boot_in", _BOOT_STAGING, (
                (v["device_id"], v["boot_id"], v["first_seen"], v["last_seen"], v["received"],
                 v["highest_seq"], json.dumps(v["ranges"])) for v in values
            ))  # fmt: skip
            conn.exec_driver_sql(_BOOTS_PG)
            return updated
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
        if seen and not self.sqlite_time:
            conn.exec_driver_sql(_SEEN_PG, (now, seen))
        elif seen:
            for start in range(0, len(seen), _CHUNK):  # one statement per chunk: all seen now
                conn.execute(update(t).where(t.c.id.in_(seen[start : start + _CHUNK]))
                             .values(last_seen=now))  # fmt: skip
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
