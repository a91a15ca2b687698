"""The Outbox: numbers items, commits them to SQLite, hands out batches, removes them on Ack.

When the file cannot be written (disk full, read-only or failing card) the outbox is degraded
(:mod:`edge.outbox.degraded`): items keep getting seqs and wait in memory, from which they are
also sent, until the file takes writes again. See the package docstring for the whole policy.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from agrifleet.contract import Ack, Event
from agrifleet.edge.clock import Clock, Stamp
from agrifleet.edge.items import Priority
from agrifleet.edge.outbox.batch import OutgoingBatch, cut_batch, in_drain_order
from agrifleet.edge.outbox.budget import Budget
from agrifleet.edge.outbox.database import (
    FileStats,
    OutboxBroken,
    connect,
    correct_timestamps,
    dead_letter,
    delete_seqs,
    file_stats,
    read_state,
    rollback,
    trouble_of,
    waiting_rows,
)
from agrifleet.edge.outbox.degraded import UNWRITABLE, Degraded
from agrifleet.edge.outbox.inflight import InFlight
from agrifleet.edge.outbox.memory import Held
from agrifleet.edge.outbox.salvage import open_or_reset
from agrifleet.edge.outbox.seqmark import SeqMark
from agrifleet.edge.outbox.stats import OutboxStats, outbox_stats
from agrifleet.edge.outbox.validate import STAMP_FIELDS, prepare

log = logging.getLogger(__name__)

#: Bytes an item's stamp fields add to its stored body (budget accounting, not exact).
_STAMP_BYTES = 128

__all__ = ["UNWRITABLE", "Outbox", "OutboxStats"]


class Outbox:
    """SQLite store-and-forward queue of one device; thread-safe. Build with :meth:`open`."""

    def __init__(
        self,
        db: sqlite3.Connection,
        *,
        path: Path,
        device_id: str,
        boot_id: str,
        clock: Clock,
        max_bytes: int,
        batch_items: int,
        batch_bytes: int,
        drain_order: Literal["oldest-first", "newest-first"],
        memory_bytes: int,
        retry_s: float,
        mark: SeqMark,
    ) -> None:
        self._db = db
        self.path = path
        self.device_id = device_id
        self.boot_id = boot_id
        self._clock = clock
        self._budget = Budget(max_bytes)
        self._batch_items = batch_items
        self._batch_bytes = batch_bytes
        self._newest_first = drain_order == "newest-first"
        self.retry_s = retry_s
        self._mark = mark
        self._lock = threading.RLock()
        self._degraded = Degraded(path, memory_bytes, retry_s)
        self._flight = InFlight(0, self._degraded.count_lost)
        self._next_seq = 0
        self._needs_correction = False
        self._cached = FileStats(0, None, None, 0, 0)
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
        memory_bytes: int = 8 * 1024 * 1024,
        retry_s: float = 10.0,
        seq_mark_dir: Path | None = None,
        on_corrupt: Literal["stop", "move-aside"] = "stop",
    ) -> Outbox:
        """Open (or create) the outbox file and recover its counters.

        A damaged or unopenable file raises :class:`OutboxBroken`, unless ``on_corrupt`` is
        ``"move-aside"``: then it is renamed ``<name>.broken-<time>``, a fresh file is started
        with every row that could still be read, and an alert event says so.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        db, reset = open_or_reset(path, move_aside=on_corrupt == "move-aside")
        outbox = cls(
            db, path=path, device_id=device_id, boot_id=boot_id, clock=clock,
            max_bytes=max_bytes, batch_items=batch_items, batch_bytes=batch_bytes,
            drain_order=drain_order, memory_bytes=memory_bytes, retry_s=retry_s,
            mark=SeqMark(seq_mark_dir, path, device_id, boot_id),
        )
        try:
            outbox._recover()
        except sqlite3.Error as exc:
            db.close()
            raise OutboxBroken(path, str(exc), trouble_of(exc)) from None
        if reset is not None:
            outbox.emit("event", {"severity": "alert", "code": "outbox_reset",
                                  "message": reset[:1024]}, Priority.ALERT)
        return outbox

    def _recover(self) -> None:
        state = read_state(self._db, self.boot_id)
        self._next_seq = max(state.next_seq, self._mark.value)
        self._budget.used, self._flight.dropped = state.stored_bytes, state.dropped
        self._needs_correction = state.unsynced

    def close(self) -> None:
        with self._lock:
            if self._degraded.active:
                self._retry()
            if not self._degraded.active:
                try:  # releases since the last commit may have counted more dropped items
                    self._db.execute("BEGIN IMMEDIATE")
                    self._write_counters()
                    self._db.execute("COMMIT")
                except sqlite3.Error:
                    rollback(self._db)
            if held := len(self._degraded.memory):
                log.warning("outbox %s still cannot be written: %d item(s) held in memory are "
                            "lost (their seqs show as a gap)", self.path, held)
            with contextlib.suppress(sqlite3.Error):
                self._db.close()

    # -- producers -------------------------------------------------------------------------

    def emit(self, kind: str, body: dict[str, Any], priority: Priority) -> int | None:
        """Commit one item (edge.items.Emit); returns its seq, or None if the budget dropped it."""
        return self.emit_all([(kind, body, priority)])[0]

    def emit_all(self, items: Iterable[tuple[str, dict[str, Any], Priority]]) -> list[int | None]:
        """Commit several items in one transaction (one sensor read); returns their seqs.

        If the file cannot be written the items are held in memory instead (still numbered).
        """
        stamp = self._clock.now()
        prepared = [prepare(kind, body, priority, stamp) for kind, body, priority in items]
        with self._lock:
            self._retry_if_due()
            self._correct_if_synced(stamp)
            held = [self._hold(kind, body, priority, stamp) for kind, body, priority in prepared]
            seqs = self._store(held, stamp)[: len(prepared)]
        if self.on_emit is not None:
            self.on_emit()
        return seqs

    def _hold(self, kind: str, body_json: str, priority: Priority, stamp: Stamp) -> Held:
        seq = self._next_seq
        self._next_seq += 1
        return Held(seq, kind, priority, stamp.ts, stamp.uptime_s, stamp.synced, body_json,
                    len(body_json.encode()) + _STAMP_BYTES)

    def _event(self, severity: str, code: str, message: str, stamp: Stamp) -> Held:
        event = Event(seq=0, ts=datetime.now(UTC), uptime_s=0, severity=severity,  # type: ignore[arg-type]
                      code=code, message=message[:1024])
        priority = Priority.ALERT if severity == "alert" else Priority.EVENT
        return self._hold("event", event.model_dump_json(exclude=STAMP_FIELDS), priority, stamp)

    def _store(self, held: list[Held], stamp: Stamp) -> list[int | None]:
        """Commit ``held`` (plus any event it causes), or keep it all in memory if that fails."""
        if not self._degraded.active:
            saved = self._budget.save(), self._flight.save()
            try:
                return self._commit(held, stamp)
            except sqlite3.Error as exc:
                rollback(self._db)
                self._budget.restore(saved[0])
                self._flight.restore(saved[1])
                self._enter_fault(exc, stamp)
        return self._keep_in_memory(held)

    def _commit(self, held: list[Held], stamp: Stamp) -> list[int | None]:
        """One transaction: the items, the seq counter, the dropped counter. May add to held."""
        self._budget.begin()
        self._db.execute("BEGIN IMMEDIATE")
        seqs = [h.seq if self._insert(h) else None for h in held]
        if (news := self._budget.news()) is not None:
            message, dropped_levels = news
            full = self._event("warning", "outbox_full", message, stamp)
            # As important as the most important item it reports dropped, so it can make room
            # among them: a full outbox of detections must not refuse the news that it is full.
            full.priority = min(dropped_levels | {full.priority})
            held.append(full)
            log.warning("%s", message)
            seqs.append(full.seq if self._insert(full) else None)
        self._write_counters()
        self._mark.advance(self._next_seq)
        self._db.execute("COMMIT")
        if any(not h.synced for h in held):
            self._needs_correction = True
        self._budget.settle()
        return seqs

    def _write_counters(self) -> None:
        self._db.execute(
            "INSERT INTO sequences (boot_id, next_seq) VALUES (?, ?) "
            "ON CONFLICT (boot_id) DO UPDATE SET next_seq = excluded.next_seq",
            (self.boot_id, self._next_seq),
        )
        self._db.execute("INSERT OR REPLACE INTO counters (name, value) VALUES ('dropped', ?)",
                         (self._flight.dropped,))

    def _insert(self, h: Held) -> bool:
        return self._budget.insert(self._db, self.boot_id, h, self._flight.lose)

    # -- degraded: the file cannot be written (edge.outbox.degraded) ----------------------

    def _enter_fault(self, exc: sqlite3.Error, stamp: Stamp) -> None:
        message = self._degraded.begin(exc)
        if message is not None:
            self._keep_in_memory([self._event("alert", UNWRITABLE, message, stamp)])

    def _keep_in_memory(self, held: list[Held]) -> list[int | None]:
        self._mark.advance(self._next_seq)
        return self._degraded.keep(held, lambda seq: self._flight.lose((self.boot_id, seq)))

    def _retry_if_due(self) -> None:
        if self._degraded.due:
            self._retry()

    def _retry(self) -> None:
        """Try to store what memory holds; once stored, say so with an info event."""
        ended = self._degraded.retry(self._reopen, self._store_chunk)
        if ended is None:
            return
        self._budget.recount(self._db)
        stamp = self._clock.now()
        self._store([self._event("info", "outbox_writable", ended, stamp)], stamp)

    def _reopen(self) -> bool:
        """Replace a connection that may be dead with a new one; False if the file won't open."""
        try:
            db = connect(self.path, check=False)
        except OutboxBroken as exc:
            log.debug("outbox %s cannot be reopened yet: %s", self.path, exc.reason)
            return False
        with contextlib.suppress(sqlite3.Error):
            self._db.close()
        self._db = db
        return True

    def _store_chunk(self, chunk: list[Held], acks: list[Ack]) -> int:
        """One transaction: deferred acks and a chunk of held items; how many it stored."""
        saved = self._flight.save()
        try:
            self._budget.recount(self._db)  # the file is the truth, not a counter
            self._budget.begin()
            self._db.execute("BEGIN IMMEDIATE")
            for ack in acks:
                self._ack_in_file(ack)
            stored = sum(self._insert(h) for h in chunk)
            self._write_counters()
            self._db.execute("COMMIT")
        except sqlite3.Error:
            self._flight.restore(saved)
            rollback(self._db)
            with contextlib.suppress(sqlite3.Error):
                self._budget.recount(self._db)
            raise
        self._needs_correction = self._needs_correction or any(not h.synced for h in chunk)
        return stored

    @property
    def degraded(self) -> dict[str, str]:
        """``{"outbox_unwritable": why}`` while the file cannot be written, else empty."""
        with self._lock:
            return self._degraded.describe()

    # -- clock ------------------------------------------------------------------------------

    def _correct_if_synced(self, stamp: Stamp) -> None:
        if self._needs_correction and stamp.synced:
            self.correct_clock(stamp.ts, stamp.uptime_s)

    def correct_clock(self, wall_now: float, uptime_now: float) -> int:
        """Rewrite this boot's unsynced timestamps from their uptime; returns how many."""
        with self._lock:
            offset = wall_now - uptime_now
            fixed = 0
            for h in self._degraded.memory:
                if not h.synced:
                    h.ts, h.synced = h.uptime_s + offset, True
                    fixed += 1
            if not self._degraded.active:
                try:
                    fixed += correct_timestamps(self._db, self.boot_id, offset)
                    self._needs_correction = False
                except sqlite3.Error as exc:
                    rollback(self._db)
                    self._enter_fault(exc, self._clock.now())
            if fixed:
                log.info("corrected %d timestamps taken before the clock was synced", fixed)
            return fixed

    # -- draining ---------------------------------------------------------------------------

    def take_batch(self, max_priority: Priority = Priority.READING) -> OutgoingBatch | None:
        """The next batch to send (not already in flight), marked in flight; None when idle.

        ``max_priority`` leaves out less important items (``Priority.EVENT``: no readings).
        """
        with self._lock:
            self._retry_if_due()
            self._correct_if_synced(self._clock.now())
            skip = self._flight.sent | self._degraded.acked_held
            try:
                rows = waiting_rows(self._db, int(max_priority), self._batch_items + len(skip),
                                    newest_first=self._newest_first)
            except sqlite3.Error as exc:
                log.debug("outbox %s cannot be read: %s", self.path, exc)
                rows = []
            held = [h for h in self._degraded.memory if h.priority <= max_priority]
            found = in_drain_order(rows, self.boot_id, held, skip,
                                   newest_first=self._newest_first)
            batch = cut_batch(self.device_id, found, self._batch_items, self._batch_bytes)
            if batch is not None:
                self._flight.sent.update((batch.boot_id, s) for s in batch.seqs)
            return batch

    def release(self, batch: OutgoingBatch) -> None:
        """Put a batch's unacknowledged items back in line (timeout, lost connection)."""
        with self._lock:
            self._flight.release({(batch.boot_id, s) for s in batch.seqs})

    def release_all(self) -> None:
        with self._lock:
            self._flight.release(self._flight.sent | self._flight.evicted)

    def ack(self, ack: Ack) -> set[int]:
        """Remove acknowledged items, dead-letter rejected ones; returns the seqs that are done."""
        with self._lock:
            covered = _covers(ack)
            done = {s for s in ack.rejected}
            memory = self._degraded.memory
            if ack.boot_id == self.boot_id:
                done |= {h.seq for h in memory.remove({h.seq for h in memory if covered(h.seq)})}
            self._flight.acked(ack.boot_id, covered)
            if not self._degraded.active:
                try:
                    self._db.execute("BEGIN IMMEDIATE")
                    done |= self._ack_in_file(ack)
                    self._db.execute("COMMIT")
                except sqlite3.Error as exc:
                    rollback(self._db)
                    self._enter_fault(exc, self._clock.now())
            if self._degraded.active:
                held = {k for k in self._flight.sent if k[0] == ack.boot_id and covered(k[1])}
                self._degraded.defer(ack, held)
                self._flight.sent -= held
            self._flight.sent -= {(ack.boot_id, s) for s in done}
        if ack.rejected:
            log.warning("fleet rejected %d item(s) of boot %s: %s", len(ack.rejected),
                        ack.boot_id, dict(list(ack.rejected.items())[:3]))
        return done

    def _ack_in_file(self, ack: Ack) -> set[int]:
        done: set[int] = set()
        for seq, reason in ack.rejected.items():
            dead_letter(self._db, ack.boot_id, seq, reason[:1024])
            done.update(self._delete(ack.boot_id, seq, seq))
            done.add(seq)
        for first, last in ack.ranges:
            done.update(self._delete(ack.boot_id, first, last))
        return done

    def _delete(self, boot_id: str, first: int, last: int) -> list[int]:
        rows = delete_seqs(self._db, boot_id, first, last)
        for seq, size in rows:
            self._flight.sent.discard((boot_id, seq))
            self._budget.used -= size
        return [seq for seq, _ in rows]

    # -- inspection -------------------------------------------------------------------------

    def stats(self) -> OutboxStats:
        with self._lock:
            self._retry_if_due()
            try:
                self._cached = file_stats(self._db, self.boot_id)
            except sqlite3.Error as exc:
                log.debug("outbox %s cannot be read: %s", self.path, exc)
            return outbox_stats(self._cached, list(self._degraded.memory),
                                stored_bytes=self._budget.used, dropped=self._flight.dropped)

    def stored_bytes_in_file(self) -> int:
        """SUM(size) of the items in the file, read now (what the budget counter must equal)."""
        with self._lock:
            return int(self._db.execute("SELECT COALESCE(SUM(size), 0) FROM items").fetchone()[0])

    @property
    def max_bytes(self) -> int:
        return self._budget.max_bytes

    @property
    def next_seq(self) -> int:
        return self._next_seq

    @property
    def inflight_items(self) -> int:
        return len(self._flight.sent)


def _covers(ack: Ack) -> Callable[[int], bool]:
    ranges = list(ack.ranges)
    rejected = set(ack.rejected)
    return lambda s: s in rejected or any(first <= s <= last for first, last in ranges)
