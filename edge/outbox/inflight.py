"""Items sent and not yet acknowledged, and the count of items lost for good.

An item that leaves the outbox unacknowledged (evicted for room, dropped from memory) while its
batch is out is lost only if that batch comes back without an Ack; otherwise it is lost at once.
``dropped`` counts only items lost for good.
"""

from __future__ import annotations

from collections.abc import Callable

Key = tuple[str, int]  # (boot_id, seq)


class InFlight:
    """What is out in batches now, what was evicted while out, and what was lost."""

    def __init__(self, dropped: int, on_lost: Callable[[int], None]) -> None:
        self.sent: set[Key] = set()
        self.evicted: set[Key] = set()  # evicted while sent: lost unless acked
        self.dropped = dropped
        self._on_lost = on_lost  # the degraded mode counts what its episode lost

    def lose(self, key: Key) -> None:
        """An item no longer kept: lost now, or once its batch comes back without an Ack."""
        if key in self.sent:
            self.sent.discard(key)
            self.evicted.add(key)
        else:
            self.dropped += 1
            self._on_lost(1)

    def release(self, keys: set[Key]) -> None:
        """These items' batches came back unacknowledged (timeout, lost connection)."""
        self.sent.difference_update(keys)
        gone = keys & self.evicted
        if gone:  # evicted while in flight and never acknowledged: lost now
            self.evicted -= gone
            self.dropped += len(gone)
            self._on_lost(len(gone))

    def acked(self, boot_id: str, covered: Callable[[int], bool]) -> None:
        """Evicted items an Ack covers were delivered after all: not lost."""
        self.evicted = {k for k in self.evicted if k[0] != boot_id or not covered(k[1])}

    def save(self) -> tuple[int, set[Key], set[Key]]:
        """A copy to :meth:`restore` when the transaction that changes it rolls back."""
        return self.dropped, set(self.sent), set(self.evicted)

    def restore(self, saved: tuple[int, set[Key], set[Key]]) -> None:
        self.dropped, self.sent, self.evicted = saved
