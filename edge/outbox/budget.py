"""The outbox file's byte budget: what its items take, which stored items make room for a new
one when it is over (edge.outbox's docstring), and when to say so with ``outbox_full``."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import NamedTuple

from agrifleet.edge.items import Priority
from agrifleet.edge.outbox.inflight import Key
from agrifleet.edge.outbox.memory import Held

_PLURAL = {Priority.ALERT: "alerts", Priority.DETECTION: "detections",
           Priority.EVENT: "events", Priority.READING: "readings"}


class Victim(NamedTuple):
    row_id: int
    boot_id: str
    seq: int
    priority: Priority
    size: int


class Budget:
    """The bytes the file's items take, kept within ``max_bytes`` by each insert."""

    def __init__(self, max_bytes: int, used: int = 0) -> None:
        self.max_bytes = max_bytes
        self.used = used
        self.dropping = False  # an episode of drops is on (its outbox_full event was queued)
        self.evicted: set[Priority] = set()  # levels evicted in the current transaction
        self.refused: set[Priority] = set()  # levels refused in the current transaction

    def begin(self) -> None:
        """A new transaction: nothing evicted or refused in it yet."""
        self.evicted, self.refused = set(), set()

    def recount(self, db: sqlite3.Connection) -> None:
        """Take the file's ``SUM(size)`` as the truth (after the file was unwritable)."""
        self.used = int(db.execute("SELECT COALESCE(SUM(size), 0) FROM items").fetchone()[0])

    def insert(self, db: sqlite3.Connection, boot_id: str, h: Held,
               lose: Callable[[Key], None]) -> bool:
        """Store ``h``, evicting what may go for it; False (and ``h`` lost) if it cannot fit."""
        if not self._make_room(db, h.size, h.priority, lose):
            self.refused.add(h.priority)
            lose((boot_id, h.seq))
            return False
        db.execute(
            "INSERT INTO items (boot_id, seq, kind, priority, ts, uptime_s, clock_synced, body, "
            "size) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (boot_id, h.seq, h.kind, int(h.priority), h.ts, h.uptime_s, int(h.synced), h.body,
             h.size),
        )
        self.used += h.size
        return True

    def _make_room(self, db: sqlite3.Connection, size: int, priority: Priority,
                   lose: Callable[[Key], None]) -> bool:
        """Evict the least important, oldest items until ``size`` fits; False if it cannot."""
        need = self.used + size - self.max_bytes
        if need <= 0:
            return True
        victims = find_room(db, need, priority)
        if victims is None:
            return False
        db.executemany("DELETE FROM items WHERE id = ?", [(v.row_id,) for v in victims])
        for v in victims:
            self.used -= v.size
            self.evicted.add(v.priority)
            lose((v.boot_id, v.seq))
        return True

    def news(self) -> tuple[str, set[Priority]] | None:
        """The first drop of an episode: the ``outbox_full`` message and the levels dropped."""
        if not (self.evicted or self.refused) or self.dropping:
            return None
        self.dropping = True
        return full_message(self.max_bytes, self.evicted, self.refused), self.evicted | self.refused

    def settle(self) -> None:
        """After a commit: below 90 % of the budget, the episode of drops is over."""
        if self.dropping and self.used < self.max_bytes * 0.9:
            self.dropping = False

    def save(self) -> tuple[int, bool]:
        """A copy to :meth:`restore` when the transaction rolls back."""
        return self.used, self.dropping

    def restore(self, saved: tuple[int, bool]) -> None:
        self.used, self.dropping = saved


def find_room(db: sqlite3.Connection, need: int, priority: Priority) -> list[Victim] | None:
    """Items of ``priority`` or less importance, least important and oldest first, freeing
    ``need`` bytes; None if even all of them would not free enough."""
    victims: list[Victim] = []
    freed = 0
    for level in range(max(Priority), int(priority) - 1, -1):  # readings first
        last_id = -1
        while freed < need:
            rows = db.execute(
                "SELECT id, boot_id, seq, size FROM items WHERE priority = ? AND id > ? "
                "ORDER BY id LIMIT 256",
                (level, last_id),
            ).fetchall()
            for row_id, boot_id, seq, size in rows:
                victims.append(Victim(row_id, boot_id, seq, Priority(level), size))
                freed += size
                last_id = row_id
                if freed >= need:
                    break
            if len(rows) < 256:
                break
        if freed >= need:
            return victims
    return None


def full_message(max_bytes: int, evicted: set[Priority], refused: set[Priority]) -> str:
    """The ``outbox_full`` warning, naming what is actually dropped."""
    parts = []
    if evicted:
        parts.append("dropping the oldest " + _kinds(evicted))
    if refused:
        parts.append("dropping new " + _kinds(refused)
                     + " (nothing less important left to make room)")
    return f"outbox over its {max_bytes} byte budget: {'; '.join(parts)}"


def _kinds(levels: set[Priority]) -> str:
    names = [_PLURAL[p] for p in sorted(levels, reverse=True)]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
