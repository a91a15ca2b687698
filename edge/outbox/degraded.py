"""The outbox's degraded mode: while its file takes no writes, items wait in memory.

When the file cannot be written (disk full, read-only or failing card), items keep their seqs
and are held in a bounded :class:`~edge.outbox.memory.MemoryBuffer`, from which they are also
sent; acks the file cannot record wait here too. Every ``retry_s`` the outbox tries the file
again (reopening it if the old connection is dead) and stores what memory held, in chunks, so
a nearly full disk still makes progress. The store (:mod:`edge.outbox.store`) does the writing;
this module keeps what waits, when to try, and what to report.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path

from agrifleet.contract import Ack
from agrifleet.edge.outbox.episode import Episode
from agrifleet.edge.outbox.inflight import Key
from agrifleet.edge.outbox.memory import Held, MemoryBuffer

log = logging.getLogger(__name__)

UNWRITABLE = "outbox_unwritable"
_FLUSH_CHUNK = 256

#: Stores a chunk of held items and applies deferred acks in one transaction; returns how many
#: items it stored. On sqlite3.Error it rolls back (the outbox's counters too) and re-raises.
StoreChunk = Callable[[list[Held], list[Ack]], int]


class Degraded:
    """What waits in memory while the outbox file takes no writes, and when to try it again."""

    def __init__(self, path: Path, memory_bytes: int, retry_s: float) -> None:
        self.path = path
        self.retry_s = retry_s
        self.memory = MemoryBuffer(memory_bytes)
        self.episode: Episode | None = None  # while the file takes no writes
        self.acked_unapplied: list[Ack] = []  # acks the file could not record yet
        self.acked_held: set[Key] = set()  # their items: never sent again

    @property
    def active(self) -> bool:
        return self.episode is not None

    @property
    def due(self) -> bool:
        return self.episode is not None and self.episode.due

    def begin(self, exc: sqlite3.Error) -> str | None:
        """Start an episode; the message of its alert, or None if one is already on."""
        if self.episode is not None:
            return None
        self.episode = Episode(str(exc), self.retry_s)
        log.warning("outbox %s cannot store items (%s); holding the newest in memory (up to %d "
                    "bytes) and retrying every %g s", self.path, exc, self.memory.max_bytes,
                    self.retry_s)
        return (f"outbox {self.path} cannot store items ({exc}); the newest are held in memory "
                f"(up to {self.memory.max_bytes} bytes) and sent from there")

    def keep(self, held: list[Held], lose: Callable[[int], None]) -> list[int | None]:
        """Hold items in memory; ``lose`` each seq it drops for room. Their seqs, None if lost."""
        seqs: list[int | None] = []
        for h in held:
            lost = self.memory.add(h)
            for gone in lost:
                lose(gone.seq)
            seqs.append(None if any(g is h for g in lost) else h.seq)
        return seqs

    def count_lost(self, n: int) -> None:
        if self.episode is not None:
            self.episode.lost += n

    def defer(self, ack: Ack, covered: set[Key]) -> None:
        """An ack the file cannot record now; ``covered`` (its items in flight) stay unsent."""
        self.acked_unapplied.append(ack)
        self.acked_held |= covered

    def retry(self, reopen: Callable[[], bool], store: StoreChunk) -> str | None:
        """Try to store what memory holds, then (if that fails) once more on a reopened file.

        Returns the message that closes the episode when everything was stored, else None
        (the next try is ``retry_s`` away).
        """
        assert self.episode is not None
        error = self.episode.error
        for again in (False, True):
            if again and not reopen():
                break
            try:
                return self._flush(store)
            except sqlite3.Error as exc:
                error = str(exc)
                log.debug("outbox %s still cannot be written: %s", self.path, exc)
        self.episode.failed_again(error)
        return None

    def _flush(self, store: StoreChunk) -> str:
        """Store memory's items in chunks (a nearly full disk still makes progress)."""
        assert self.episode is not None
        while len(self.memory) or self.acked_unapplied:
            chunk = list(self.memory)[:_FLUSH_CHUNK]
            self.episode.stored += store(chunk, self.acked_unapplied)
            self.memory.remove({h.seq for h in chunk})
            self.acked_unapplied, self.acked_held = [], set()
        ended, self.episode = self.episode.ended(self.path), None
        log.info("%s", ended)
        return ended

    def describe(self) -> dict[str, str]:
        """``{"outbox_unwritable": why}`` while the file cannot be written, else empty."""
        if self.episode is None:
            return {}
        return {UNWRITABLE: self.episode.describe(len(self.memory))}
