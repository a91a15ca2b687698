"""The durable outbox: every item is committed to SQLite before it is sent, and leaves only on Ack.

Policy (docs/edge.md, "Outbox"):

- Each item gets the next seq of its boot in the same transaction that stores it (WAL,
  ``synchronous=FULL``), so a power cut loses no committed item and never repeats a seq.
- It leaves only when the fleet's :class:`~agrifleet.contract.Ack` lists its seq; a seq the fleet
  ``rejected`` moves to the ``dead_letters`` table.
- Over the disk budget, an incoming item evicts stored items of the same or lower importance:
  routine readings first, oldest first, then events, then detections; alerts never make room
  for anything less important. If nothing may go, the incoming item is dropped. A dropped item
  still used its seq, so the fleet sees the gap. The first drop of an episode adds a warning
  event ``outbox_full``.
- Batches drain by priority (alerts, detections, events, readings); within a priority oldest
  first by default (``drain_order = "newest-first"`` for the freshest state first). A batch holds
  one boot's items in seq order, within ``batch_items`` and ``batch_bytes``.
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from agrifleet.contract import CONTRACT_VERSION, Ack, Detection, Event, Reading, Update
from edge.clock import Clock, Stamp, iso
from edge.items import Priority

log = logging.getLogger(__name__)

_MODELS: dict[str, type[BaseModel]] = {
    "reading": Reading, "detection": Detection, "event": Event, "update": Update,
}
_STAMP_FIELDS = {"kind", "seq", "ts", "uptime_s", "clock_synced"}
#: Bytes an item's stamp fields add to its stored body (budget accounting, not exact).
_STAMP_BYTES = 128
_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    boot_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    priority INTEGER NOT NULL,
    ts REAL NOT NULL,
    uptime_s REAL NOT NULL,
    clock_synced INTEGER NOT NULL,
    body TEXT NOT NULL,
    size INTEGER NOT NULL,
    UNIQUE (boot_id, seq)
);
CREATE INDEX IF NOT EXISTS items_drain ON items (priority, id);
CREATE TABLE IF NOT EXISTS sequences (boot_id TEXT PRIMARY KEY, next_seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS dead_letters (
    boot_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    ts REAL NOT NULL,
    body TEXT NOT NULL,
    reason TEXT NOT NULL,
    rejected_at REAL NOT NULL,
    PRIMARY KEY (boot_id, seq)
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
_SELECT = "SELECT id, boot_id, seq, kind, ts, uptime_s, clock_synced, body FROM items "
_OLDEST_FIRST = _SELECT + "WHERE priority <= ? ORDER BY priority ASC, id ASC LIMIT ?"
_NEWEST_FIRST = _SELECT + "WHERE priority <= ? ORDER BY priority ASC, id DESC LIMIT ?"


class ItemRefused(ValueError):
    """A producer handed the outbox an item the contract does not allow; nothing was stored."""


@dataclass(frozen=True)
class OutgoingBatch:
    """One Batch payload taken from the outbox and not yet acknowledged."""

    boot_id: str
    seqs: tuple[int, ...]
    row_ids: tuple[int, ...]
    payload: bytes


@dataclass(frozen=True)
class OutboxStats:
    depth: int
    stored_bytes: int
    oldest_ts: float | None  # of items with a trusted timestamp
    oldest_unsynced_uptime_s: float | None  # this boot's items taken before the clock synced
    dropped: int
    dead_letters: int


class Outbox:
    """SQLite store-and-forward queue of one device; thread-safe. Build with :meth:`open`."""

    def __init__(
        self,
        db: sqlite3.Connection,
        *,
        device_id: str,
        boot_id: str,
        clock: Clock,
        max_bytes: int,
        batch_items: int,
        batch_bytes: int,
        drain_order: Literal["oldest-first", "newest-first"],
    ) -> None:
        self._db = db
        self.device_id = device_id
        self.boot_id = boot_id
        self._clock = clock
        self.max_bytes = max_bytes
        self._batch_items = batch_items
        self._batch_bytes = batch_bytes
        self._newest_first = drain_order == "newest-first"
        self._lock = threading.RLock()
        self._inflight: set[int] = set()
        self._next_seq: int = 0
        self._bytes = 0
        self._dropping = False
        self._lost = 0
        self._needs_correction = False
        self.on_emit: Callable[[], None] | None = None

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        device_id: str,
        boot_id: str,
        clock: Clock,
        max_bytes: int = 256 * 1024 * 1024,
        batch_items: int = 500,
        batch_bytes: int = 128 * 1024,
        drain_order: Literal["oldest-first", "newest-first"] = "oldest-first",
    ) -> Outbox:
        """Open (or create) the outbox file and recover its counters."""
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(_SCHEMA)
        outbox = cls(
            db,
            device_id=device_id,
            boot_id=boot_id,
            clock=clock,
            max_bytes=max_bytes,
            batch_items=batch_items,
            batch_bytes=batch_bytes,
            drain_order=drain_order,
        )
        outbox._recover()
        return outbox

    def _recover(self) -> None:
        row = self._db.execute(
            "SELECT next_seq FROM sequences WHERE boot_id = ?", (self.boot_id,)
        ).fetchone()
        self._next_seq = int(row[0]) if row else 0
        self._bytes = self._sum_sizes()
        self._needs_correction = bool(
            self._db.execute(
                "SELECT 1 FROM items WHERE boot_id = ? AND clock_synced = 0 LIMIT 1",
                (self.boot_id,),
            ).fetchone()
        )

    def _sum_sizes(self) -> int:
        return int(self._db.execute("SELECT COALESCE(SUM(size), 0) FROM items").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- producers -------------------------------------------------------------------------

    def emit(self, kind: str, body: dict[str, Any], priority: Priority) -> int | None:
        """Commit one item (edge.items.Emit); returns its seq, or None if the budget dropped it."""
        return self.emit_all([(kind, body, priority)])[0]

    def emit_all(self, items: Iterable[tuple[str, dict[str, Any], Priority]]) -> list[int | None]:
        """Commit several items in one transaction (one sensor read); returns their seqs."""
        stamp = self._clock.now()
        prepared = [self._prepare(kind, body, priority, stamp) for kind, body, priority in items]
        with self._lock:
            self._correct_if_synced(stamp)
            self._lost = 0
            seqs: list[int | None] = []
            self._db.execute("BEGIN IMMEDIATE")
            try:
                next_seq = self._next_seq
                for kind, body_json, priority in prepared:
                    seqs.append(self._insert(next_seq, kind, body_json, priority, stamp))
                    next_seq += 1
                    if self._lost and not self._dropping:
                        self._dropping = True
                        self._insert(next_seq, *self._full_event(), stamp)
                        next_seq += 1
                self._db.execute(
                    "INSERT INTO sequences (boot_id, next_seq) VALUES (?, ?) "
                    "ON CONFLICT (boot_id) DO UPDATE SET next_seq = excluded.next_seq",
                    (self.boot_id, next_seq),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                self._bytes = self._sum_sizes()
                raise
            self._next_seq = next_seq
            if not stamp.synced:
                self._needs_correction = True
            if self._dropping and self._bytes < self.max_bytes * 0.9:
                self._dropping = False
        if self.on_emit is not None:
            self.on_emit()
        return seqs

    def _prepare(
        self, kind: str, body: dict[str, Any], priority: Priority, stamp: Stamp
    ) -> tuple[str, str, Priority]:
        model = _MODELS.get(kind)
        if model is None:
            raise ItemRefused(f"unknown item kind {kind!r} (expected one of {sorted(_MODELS)})")
        clash = _STAMP_FIELDS & body.keys()
        if clash:
            raise ItemRefused(f"{kind}: the outbox sets {sorted(clash)}, the producer must not")
        stamped = {"seq": 0, "ts": iso(stamp.ts), "uptime_s": stamp.uptime_s, **body}
        try:
            item = model.model_validate(stamped)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
            )
            raise ItemRefused(f"{kind} refused: {problems}") from None
        if isinstance(item, Reading) and not math.isfinite(item.value):
            raise ItemRefused(f"reading {item.sensor}/{item.quantity}: value is {item.value}")
        if isinstance(item, Event) and item.severity == "alert":
            priority = Priority.ALERT
        return kind, item.model_dump_json(exclude=_STAMP_FIELDS), Priority(priority)

    def _full_event(self) -> tuple[str, str, Priority]:
        message = f"outbox over its {self.max_bytes} byte budget: dropping oldest readings first"
        log.warning(message)
        event = Event(seq=0, ts=datetime.now(UTC), uptime_s=0, severity="warning",
                      code="outbox_full", message=message)
        return "event", event.model_dump_json(exclude=_STAMP_FIELDS), Priority.EVENT

    def _insert(
        self, seq: int, kind: str, body_json: str, priority: Priority, stamp: Stamp
    ) -> int | None:
        size = len(body_json.encode()) + _STAMP_BYTES
        if not self._make_room(size, priority):
            self._count("dropped", 1)
            self._lost += 1
            return None
        self._db.execute(
            "INSERT INTO items (boot_id, seq, kind, priority, ts, uptime_s, clock_synced, body, "
            "size) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (self.boot_id, seq, kind, int(priority), stamp.ts, stamp.uptime_s, int(stamp.synced),
             body_json, size),
        )
        self._bytes += size
        return seq

    def _make_room(self, size: int, priority: Priority) -> bool:
        """Evict the least important, oldest items until ``size`` fits; False if it cannot."""
        need = self._bytes + size - self.max_bytes
        if need <= 0:
            return True
        victims: list[int] = []
        freed = 0
        for level in range(max(Priority), int(priority) - 1, -1):  # readings first
            last_id = -1
            while freed < need:
                rows = self._db.execute(
                    "SELECT id, size FROM items WHERE priority = ? AND id > ? "
                    "ORDER BY id LIMIT 256",
                    (level, last_id),
                ).fetchall()
                for row_id, row_size in rows:
                    victims.append(row_id)
                    freed += row_size
                    last_id = row_id
                    if freed >= need:
                        break
                if len(rows) < 256:
                    break
            if freed >= need:
                break
        if freed < need:
            return False
        self._db.executemany("DELETE FROM items WHERE id = ?", [(v,) for v in victims])
        self._bytes -= freed
        self._inflight.difference_update(victims)
        self._count("dropped", len(victims))
        self._lost += len(victims)
        return True

    def _count(self, name: str, n: int) -> None:
        self._db.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
            (name, n),
        )

    # -- clock ------------------------------------------------------------------------------

    def _correct_if_synced(self, stamp: Stamp) -> None:
        if self._needs_correction and stamp.synced:
            self.correct_clock(stamp.ts, stamp.uptime_s)

    def correct_clock(self, wall_now: float, uptime_now: float) -> int:
        """Rewrite this boot's unsynced timestamps from their uptime; returns how many."""
        with self._lock:
            offset = wall_now - uptime_now
            cur = self._db.execute(
                "UPDATE items SET ts = uptime_s + ?, clock_synced = 1 "
                "WHERE boot_id = ? AND clock_synced = 0",
                (offset, self.boot_id),
            )
            self._needs_correction = False
            if cur.rowcount:
                log.info("corrected %d timestamps taken before the clock was synced", cur.rowcount)
            return cur.rowcount

    # -- draining ---------------------------------------------------------------------------

    def take_batch(self, max_priority: Priority = Priority.READING) -> OutgoingBatch | None:
        """The next batch to send (not already in flight), marked in flight; None when idle.

        ``max_priority`` leaves out less important items (``Priority.EVENT``: no readings).
        """
        with self._lock:
            self._correct_if_synced(self._clock.now())
            rows = self._db.execute(
                _NEWEST_FIRST if self._newest_first else _OLDEST_FIRST,
                (int(max_priority), self._batch_items + len(self._inflight)),
            ).fetchall()
            head = f'{{"v":{CONTRACT_VERSION},"device_id":{json.dumps(self.device_id)},'
            picked: list[tuple[int, int, str]] = []
            boot: str | None = None
            used = 0
            for row_id, boot_id, seq, kind, ts, up, synced, body in rows:
                if row_id in self._inflight or (boot is not None and boot_id != boot):
                    continue
                if boot is None:
                    boot = boot_id
                    used = len(head) + len(json.dumps(boot_id)) + 32
                item = _item_json(kind, seq, ts, up, bool(synced), body)
                if picked and used + len(item) + 1 > self._batch_bytes:
                    break
                picked.append((seq, row_id, item))
                used += len(item) + 1
                if len(picked) >= self._batch_items:
                    break
            if boot is None:
                return None
            picked.sort()
            payload = (
                f'{head}"boot_id":{json.dumps(boot)},"items":[{",".join(p[2] for p in picked)}]}}'
            )
            row_ids = tuple(p[1] for p in picked)
            self._inflight.update(row_ids)
            return OutgoingBatch(boot, tuple(p[0] for p in picked), row_ids, payload.encode())

    def release(self, batch: OutgoingBatch) -> None:
        """Put a batch's unacknowledged items back in line (timeout, lost connection)."""
        with self._lock:
            self._inflight.difference_update(batch.row_ids)

    def release_all(self) -> None:
        with self._lock:
            self._inflight.clear()

    def ack(self, ack: Ack) -> set[int]:
        """Remove acknowledged items, dead-letter rejected ones; returns the seqs that are done."""
        done: set[int] = set()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for seq, reason in ack.rejected.items():
                    self._db.execute(
                        "INSERT OR REPLACE INTO dead_letters (boot_id, seq, kind, ts, body, reason,"
                        " rejected_at) SELECT boot_id, seq, kind, ts, body, ?, ? FROM items "
                        "WHERE boot_id = ? AND seq = ?",
                        (reason[:1024], datetime.now(UTC).timestamp(), ack.boot_id, seq),
                    )
                    done.update(self._delete(ack.boot_id, seq, seq))
                    done.add(seq)
                for first, last in ack.ranges:
                    done.update(self._delete(ack.boot_id, first, last))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        if ack.rejected:
            log.warning("fleet rejected %d item(s) of boot %s: %s", len(ack.rejected),
                        ack.boot_id, dict(list(ack.rejected.items())[:3]))
        return done

    def _delete(self, boot_id: str, first: int, last: int) -> list[int]:
        rows = self._db.execute(
            "DELETE FROM items WHERE boot_id = ? AND seq BETWEEN ? AND ? RETURNING id, seq, size",
            (boot_id, first, last),
        ).fetchall()
        for row_id, _, size in rows:
            self._inflight.discard(row_id)
            self._bytes -= size
        return [seq for _, seq, _ in rows]

    # -- inspection -------------------------------------------------------------------------

    def stats(self) -> OutboxStats:
        with self._lock:
            depth, oldest = self._db.execute(
                "SELECT COUNT(*), MIN(CASE WHEN clock_synced THEN ts END) FROM items"
            ).fetchone()
            (oldest_uptime,) = self._db.execute(
                "SELECT MIN(uptime_s) FROM items WHERE boot_id = ? AND clock_synced = 0",
                (self.boot_id,),
            ).fetchone()
            dropped = self._db.execute(
                "SELECT value FROM counters WHERE name = 'dropped'"
            ).fetchone()
            dead = self._db.execute("SELECT COUNT(*) FROM dead_letters").fetchone()[0]
            return OutboxStats(
                depth=int(depth),
                stored_bytes=self._bytes,
                oldest_ts=oldest,
                oldest_unsynced_uptime_s=oldest_uptime,
                dropped=int(dropped[0]) if dropped else 0,
                dead_letters=int(dead),
            )

    @property
    def next_seq(self) -> int:
        return self._next_seq

    @property
    def inflight_items(self) -> int:
        return len(self._inflight)


def _item_json(kind: str, seq: int, ts: float, up: float, synced: bool, body: str) -> str:
    head = json.dumps(
        {"kind": kind, "seq": seq, "ts": iso(ts), "uptime_s": up, "clock_synced": synced},
        separators=(",", ":"),
    )
    return head if body == "{}" else f"{head[:-1]},{body[1:]}"
