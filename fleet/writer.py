"""The writer thread: many MQTT messages per transaction, bulk inserts, acks only after commit."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, bindparam, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlmodel import SQLModel

from agrifleet.contract import MAX_PAYLOAD_BYTES, Ack, device_from_topic, seq_ranges
from fleet import gaps
from fleet.metrics import Metrics
from fleet.models import utcnow
from fleet.parse import CheckedBatch, CheckedStatus, Reading, Refusal, parse_message

log = logging.getLogger(__name__)

#: ``send_ack(device_id, ack)`` publishes on the device's ack topic.
SendAck = Callable[[str, Ack], None]
_BOOT_CACHE_SIZE = 4096
_READING_COLUMNS = (
    "device_id", "boot_id", "seq", "ts", "uptime_s", "clock_synced",
    "sensor", "quantity", "value", "unit", "stored_at",
)  # fmt: skip
#: How SQLAlchemy stores a DateTime in SQLite; readings must be written as the very same text.
_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"
BootKey = tuple[str, str]  # device id, boot id
BootState = tuple[datetime, list[list[int]]]  # first seen, received seq ranges
_MAX_GROUP_BYTES = 2 * 1024 * 1024  # about 15,000 readings per transaction


@dataclass(frozen=True, slots=True)
class Incoming:
    """One MQTT message as the network thread received it."""

    topic: str
    payload: bytes
    #: The broker's packet id, QoS and the ingestor's session number, for the deferred PUBACK.
    mid: int = 0
    qos: int = 0
    session: int = 0


#: ``on_done(messages)``: the messages are stored or refused for good (PUBACK them now).
OnDone = Callable[[list["Incoming"]], None]


def _utc(ts: datetime) -> datetime:
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts


class _RateLimitedLog:
    """At most one warning per reason every ``every`` seconds, with the count in between."""

    def __init__(self, every: float = 10.0) -> None:
        self.every = every
        self._last: dict[str, float] = {}
        self._skipped: Counter[str] = Counter()

    def warn(self, reason: str, text: str) -> None:
        now = time.monotonic()
        if now - self._last.get(reason, -self.every) < self.every:
            self._skipped[reason] += 1
            return
        skipped = self._skipped.pop(reason, 0)
        more = f" (and {skipped} more since the last report)" if skipped else ""
        self._last[reason] = now
        log.warning("refused a message (%s): %s%s", reason, text, more)


class Writer:
    """Stores checked messages; the single writer of items, boots and device state."""

    def __init__(self, engine: Engine, metrics: Metrics, prefix: str, send_ack: SendAck,
                 on_done: OnDone = lambda messages: None) -> None:
        self.engine = engine
        self.metrics = metrics
        self.prefix = prefix
        self.send_ack = send_ack
        self.on_done = on_done
        tables = SQLModel.metadata.tables
        self.t_reading: Table = tables["reading"]
        self.t_detection: Table = tables["detection"]
        self.t_event: Table = tables["event"]
        self.t_update: Table = tables["modelupdate"]
        self.t_latest: Table = tables["latestreading"]
        self.t_boot: Table = tables["deviceboot"]
        self.t_device: Table = tables["device"]
        dialect = engine.dialect.name
        if dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database dialect {dialect!r}")
        self._insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
        self._count_by_returning = dialect == "postgresql"
        # Readings go straight to the driver's executemany as tuples, skipping SQLAlchemy's
        # per-row parameter processing (most of the cost at 10k readings/s).
        self._sqlite_time = dialect == "sqlite"  # SQLite stores times as text
        positional = (
            engine.dialect if dialect == "sqlite" else psycopg_dialect.dialect(paramstyle="format")
        )
        compiled = (
            self._insert(self.t_reading)
            .on_conflict_do_nothing()
            .compile(dialect=positional, column_keys=list(_READING_COLUMNS), for_executemany=True)
        )
        if tuple(compiled.positiontup or ()) != _READING_COLUMNS:
            raise RuntimeError(f"unexpected reading columns {compiled.positiontup}")
        self._reading_sql = str(compiled)
        self._known: set[str] = set()
        self._boots: OrderedDict[BootKey, BootState] = OrderedDict()
        self._refusal_log = _RateLimitedLog()

    # --- the thread ------------------------------------------------------------------------

    def run(
        self, inbox: queue.Queue[Incoming], stop: threading.Event, max_messages: int = 2000
    ) -> None:
        """Drain ``inbox`` until ``stop`` is set and the inbox is empty."""
        while True:
            try:
                first = inbox.get(timeout=0.2)
            except queue.Empty:
                if stop.is_set():
                    return
                continue
            group, size = [first], len(first.payload)
            while len(group) < max_messages and size < _MAX_GROUP_BYTES:
                try:
                    message = inbox.get_nowait()
                except queue.Empty:
                    break
                group.append(message)
                size += len(message.payload)
            self._write_until_done(group, stop)

    def _write_until_done(self, group: list[Incoming], stop: threading.Event) -> None:
        """Store the group, retrying while the database is away; then ``on_done`` (PUBACK)."""
        delay = 0.5
        while True:
            try:
                self.write(group)
                break
            except (OperationalError, InterfaceError) as exc:
                self.metrics.retry()
                log.warning(
                    "database unavailable (%s); retrying %d messages in %.1fs",
                    type(exc.orig).__name__ if exc.orig else exc,
                    len(group),
                    delay,
                )
            except Exception:
                # Unacknowledged messages are sent again by their devices; the worker goes on.
                log.exception("could not store %d messages; they stay unacknowledged", len(group))
                break  # released to the broker all the same: it must not wait for them forever
            if stop.wait(delay):  # not released: the broker delivers them again at the next start
                log.warning("stopping with %d messages unstored (devices resend them)", len(group))
                return
            delay = min(delay * 2, 30.0)
        self.on_done(group)

    # --- one transaction -------------------------------------------------------------------

    def write(self, messages: Iterable[Incoming]) -> None:
        """Check, store in one transaction, then acknowledge the given messages."""
        checked: list[CheckedBatch | CheckedStatus] = []
        for message in messages:
            if not message.payload and message.topic.endswith("/status"):
                continue  # a retained status being cleared, not a message
            try:
                result = parse_message(self.prefix, message.topic, message.payload)
            except Exception:  # a bug in checking must not stop the worker
                log.exception("could not check a message on %s", message.topic[:200])
                result = Refusal("invalid_payload", "unexpected error while checking")
            if isinstance(result, Refusal):
                self._refuse(result)
            else:
                checked.append(result)
        if not checked:
            return
        checked = self._only_known(checked)
        if not checked:
            return
        try:
            self._store(checked)
        except (OperationalError, InterfaceError):
            raise
        except DBAPIError as exc:
            if len(checked) == 1:
                log.error(
                    "the database refused a message from %s: %s", checked[0].device_id, exc.orig
                )
                self._refuse(Refusal("storage_error", str(exc.orig), checked[0].device_id))
                return
            for one in checked:  # find the poison message; store the others
                try:
                    self._store([one])
                except (OperationalError, InterfaceError):
                    raise
                except DBAPIError as exc1:
                    log.error(
                        "the database refused a message from %s: %s", one.device_id, exc1.orig
                    )
                    self._refuse(Refusal("storage_error", str(exc1.orig), one.device_id))

    def refuse_oversized(self, topic: str, size: int) -> None:
        """Count and log a message too large to take in (called by the network thread)."""
        where = device_from_topic(self.prefix, topic)
        detail = f"{size} bytes > {MAX_PAYLOAD_BYTES}"
        self._refuse(Refusal("oversized", detail, where[0] if where else None))

    def _refuse(self, refusal: Refusal) -> None:
        self.metrics.refuse(refusal.reason)
        who = f"device {refusal.device_id!r}" if refusal.device_id else "unknown sender"
        self._refusal_log.warn(refusal.reason, f"{who}: {refusal.detail}")

    def _only_known(
        self, checked: list[CheckedBatch | CheckedStatus]
    ) -> list[CheckedBatch | CheckedStatus]:
        asked = {c.device_id for c in checked} - self._known
        if asked:
            with self.engine.connect() as conn:
                found = conn.execute(
                    select(self.t_device.c.id).where(self.t_device.c.id.in_(asked))
                ).scalars()
                self._known.update(found)
        kept = []
        for c in checked:
            if c.device_id in self._known:
                kept.append(c)
            else:
                self._refuse(
                    Refusal("unknown_device", "not registered (POST /api/v1/devices)", c.device_id)
                )
        return kept

    def _store(self, checked: list[CheckedBatch | CheckedStatus]) -> None:
        now = utcnow()
        as_text = self._sqlite_time
        stamps: dict[datetime, Any] = {}
        stored_stamp = now.strftime(_SQLITE_TIME) if as_text else now
        readings: list[Any] = []
        detections: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        latest: dict[tuple[str, str, str], tuple[datetime, Reading, str]] = {}
        boot_seqs: dict[tuple[str, str], list[int]] = {}
        statuses: dict[str, CheckedStatus] = {}
        latencies: list[float] = []
        ingested: Counter[str] = Counter()
        rejected: Counter[str] = Counter()
        now_s = now.timestamp()
        for c in checked:
            if isinstance(c, CheckedStatus):
                statuses[c.device_id] = c
                ingested["status"] += 1
                continue
            ingested["messages"] += 1
            dev, boot = c.device_id, c.boot_id
            for r in c.readings:
                ts = _utc(r.ts)
                stamp = stamps.get(ts)
                if stamp is None:
                    if ts.utcoffset():
                        ts = ts.astimezone(UTC)
                    stamp = stamps[ts] = ts.strftime(_SQLITE_TIME) if as_text else ts
                readings.append(
                    (dev, boot, r.seq, stamp, r.uptime_s, r.clock_synced, r.sensor,
                     r.quantity, r.value, r.unit, stored_stamp)
                )  # fmt: skip
                key = (dev, r.sensor, r.quantity)
                if key not in latest or ts >= latest[key][0]:
                    latest[key] = (ts, r, boot)
                if r.clock_synced:
                    latencies.append(now_s - ts.timestamp())
            for d, image in c.detections:
                detections.append(
                    {
                        "device_id": dev,
                        "boot_id": boot,
                        "seq": d.seq,
                        "ts": _utc(d.ts),
                        "uptime_s": d.uptime_s,
                        "clock_synced": d.clock_synced,
                        "camera": d.camera,
                        "label": d.label,
                        "confidence": d.confidence,
                        "uncertain": d.uncertain,
                        "top3": [t.model_dump(mode="json") for t in d.top3],
                        "model_name": d.model.name,
                        "model_version": d.model.version,
                        "model_sha256": d.model.sha256,
                        "inference_ms": d.inference_ms,
                        "image_sha256": d.image_sha256,
                        "thumbnail": image,
                        "stored_at": now,
                    }
                )
                if d.clock_synced:
                    latencies.append(now_s - _utc(d.ts).timestamp())
            for e in c.events:
                events.append(
                    {
                        "device_id": dev,
                        "boot_id": boot,
                        "seq": e.seq,
                        "ts": _utc(e.ts),
                        "uptime_s": e.uptime_s,
                        "clock_synced": e.clock_synced,
                        "severity": e.severity,
                        "code": e.code,
                        "message": e.message,
                        "sensor": e.sensor,
                        "stored_at": now,
                    }
                )
            for u in c.updates:
                updates.append(
                    {
                        "device_id": dev,
                        "boot_id": boot,
                        "seq": u.seq,
                        "ts": _utc(u.ts),
                        "uptime_s": u.uptime_s,
                        "clock_synced": u.clock_synced,
                        "rollout_id": u.rollout_id,
                        "model": u.model,
                        "version": u.version,
                        "state": u.state,
                        "reason": u.reason,
                        "bytes_done": u.bytes_done,
                        "bytes_total": u.bytes_total,
                        "gate": u.gate.model_dump(mode="json") if u.gate else None,
                        "active": u.active.model_dump(mode="json") if u.active else None,
                        "stored_at": now,
                    }
                )
            rejected.update(reason.split(":", 1)[0] for reason in c.rejected.values())
            boot_seqs.setdefault((dev, boot), []).extend(c.accepted_seqs() + list(c.rejected))

        stored: Counter[str] = Counter()
        duplicate: Counter[str] = Counter()
        with self.engine.begin() as conn:
            for kind, table, rows in (
                ("reading", self.t_reading, readings),
                ("detection", self.t_detection, detections),
                ("event", self.t_event, events),
                ("update", self.t_update, updates),
            ):
                if rows:
                    new = self._insert_new(conn, table, rows)
                    stored[kind] += new
                    duplicate[kind] += len(rows) - new
            if latest:
                self._upsert_latest(conn, latest)
            new_boots = self._update_boots(conn, boot_seqs, now) if boot_seqs else {}
            self._update_devices(conn, checked, statuses, now)
        # Committed: from here on, devices may forget these items.
        self._boots.update(new_boots)
        while len(self._boots) > _BOOT_CACHE_SIZE:
            self._boots.popitem(last=False)
        acks = 0
        for c in checked:
            if isinstance(c, CheckedBatch):
                ack = Ack(
                    boot_id=c.boot_id, ranges=seq_ranges(c.accepted_seqs()), rejected=c.rejected
                )
                self.send_ack(c.device_id, ack)
                acks += 1
        done_s = time.time()
        self.metrics.record_transaction(
            ingested, stored, duplicate, rejected, [lat + done_s - now_s for lat in latencies], acks
        )

    def _insert_new(self, conn: Connection, table: Table, rows: list[Any]) -> int:
        """Bulk INSERT … ON CONFLICT DO NOTHING; returns how many rows were new."""
        if table is self.t_reading:  # tuples in _READING_COLUMNS order
            return conn.exec_driver_sql(self._reading_sql, rows).rowcount
        stmt = self._insert(table).on_conflict_do_nothing()
        if self._count_by_returning:  # psycopg reports no row count for executemany
            return len(conn.execute(stmt.returning(table.c.id), rows).all())
        return conn.execute(stmt, rows).rowcount

    def _upsert_latest(
        self, conn: Connection, latest: dict[tuple[str, str, str], tuple[datetime, Reading, str]]
    ) -> None:
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

    def _update_boots(
        self, conn: Connection, boot_seqs: dict[tuple[str, str], list[int]], now: datetime
    ) -> dict[BootKey, BootState]:
        t = self.t_boot
        missing = [key for key in boot_seqs if key not in self._boots]
        known: dict[BootKey, BootState] = {
            key: self._boots[key] for key in boot_seqs if key in self._boots
        }
        if missing:
            rows = conn.execute(
                select(t.c.device_id, t.c.boot_id, t.c.first_seen, t.c.ranges).where(
                    tuple_(t.c.device_id, t.c.boot_id).in_(missing)
                )
            )
            for dev, boot, first_seen, ranges in rows:
                known[(dev, boot)] = (first_seen, ranges)
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
        ins = self._insert(t)
        stmt = ins.on_conflict_do_update(
            index_elements=[t.c.device_id, t.c.boot_id],
            set_={c: ins.excluded[c] for c in ("last_seen", "received", "highest_seq", "ranges")},
        )
        conn.execute(stmt, values)
        return updated

    def _update_devices(
        self,
        conn: Connection,
        checked: list[CheckedBatch | CheckedStatus],
        statuses: dict[str, CheckedStatus],
        now: datetime,
    ) -> None:
        t = self.t_device
        seen = sorted({c.device_id for c in checked} - set(statuses))
        if seen:
            conn.execute(
                update(t).where(t.c.id == bindparam("b_id")).values(last_seen=bindparam("b_now")),
                [{"b_id": dev, "b_now": now} for dev in seen],
            )
        for dev, c in statuses.items():
            s = c.status
            values: dict[str, Any] = {
                "online": s.state == "online",
                "boot_id": s.boot_id,
                "status_at": _utc(s.ts) if s.ts else now,
            }
            if s.health is not None:  # the last will carries none: keep the last known
                values["health"] = s.health.model_dump(mode="json")
            if s.state == "online":
                values["last_seen"] = now
            conn.execute(update(t).where(t.c.id == dev).values(**values))
