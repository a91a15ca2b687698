"""Jittered exponential back-off, for reconnecting to the broker and retrying a silent sensor."""

from __future__ import annotations

import random


class Backoff:
    """Delays that double from ``initial`` up to ``maximum``, each drawn in [d/2, d]."""

    def __init__(self, initial: float, maximum: float) -> None:
        self.initial = initial
        self.maximum = max(initial, maximum)
        self._attempt = 0

    def next(self) -> float:
        """The delay before the next attempt; each call doubles the ceiling."""
        ceiling = min(self.maximum, self.initial * 2 ** min(self._attempt, 32))
        self._attempt += 1
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 (jitter, not security)

    def reset(self) -> None:
        self._attempt = 0

    @property
    def attempts(self) -> int:
        return self._attempt
