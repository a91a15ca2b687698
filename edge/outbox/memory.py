"""Items the outbox could not write to disk, held in memory (bounded) until stored or sent."""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from agrifleet.edge.items import Priority


@dataclass
class Held:
    """One item with its seq and stamp, as it would be stored."""

    seq: int
    kind: str
    priority: Priority
    ts: float
    uptime_s: float
    synced: bool
    body: str
    size: int  # accounted like the disk budget (the Python objects take about twice that)


class MemoryBuffer:
    """At most ``max_bytes`` of items; over it, the least important oldest go first.

    An item never makes room by evicting a more important one (an alert is never evicted for a
    reading); when nothing may go, the new item itself is the one dropped.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._levels: dict[Priority, deque[Held]] = {p: deque() for p in Priority}
        self._level_bytes = dict.fromkeys(Priority, 0)

    @property
    def bytes(self) -> int:
        return sum(self._level_bytes.values())

    def add(self, item: Held) -> list[Held]:
        """Keep ``item``; return what was dropped for it (possibly ``item`` itself)."""
        need = self.bytes + item.size - self.max_bytes
        room = sum(b for p, b in self._level_bytes.items() if p >= item.priority)
        if need > 0 and room < need:
            return [item]
        victims: list[Held] = []
        for level in sorted(Priority, reverse=True):  # readings first, oldest first
            queue = self._levels[level]
            while need > 0 and queue and level >= item.priority:
                gone = queue.popleft()
                victims.append(gone)
                need -= gone.size
                self._level_bytes[level] -= gone.size
        self._levels[item.priority].append(item)
        self._level_bytes[item.priority] += item.size
        return victims

    def remove(self, seqs: set[int]) -> list[Held]:
        """Take out the items with these seqs; return them."""
        taken: list[Held] = []
        for level, queue in self._levels.items():
            if any(h.seq in seqs for h in queue):
                out = [h for h in queue if h.seq in seqs]
                self._levels[level] = deque(h for h in queue if h.seq not in seqs)
                self._level_bytes[level] -= sum(h.size for h in out)
                taken += out
        return taken

    def __iter__(self) -> Iterator[Held]:
        """The items in seq order (a snapshot)."""
        return iter(list(heapq.merge(*self._levels.values(), key=lambda h: h.seq)))

    def __len__(self) -> int:
        return sum(len(q) for q in self._levels.values())
