"""One stretch of time in which the outbox file takes no writes (disk full, read-only card)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class Episode:
    """What the outbox reports while degraded, and when it next tries the file."""

    error: str  # the latest sqlite error, as sqlite words it
    retry_s: float
    since: float = field(default_factory=time.monotonic)
    lost: int = 0  # items lost for good during it (memory overflow)
    stored: int = 0  # items held in memory and later written to the file
    next_retry: float = 0.0

    def __post_init__(self) -> None:
        self.next_retry = self.since + self.retry_s

    @property
    def due(self) -> bool:
        return time.monotonic() >= self.next_retry

    def failed_again(self, error: str) -> None:
        self.error = error
        self.next_retry = time.monotonic() + self.retry_s

    @property
    def lasted_s(self) -> float:
        return time.monotonic() - self.since

    def describe(self, held: int) -> str:
        """The message for ``Health.degraded["outbox_unwritable"]``."""
        return (f"{self.error}; {held} item(s) held in memory, {self.lost} lost, "
                f"for {self.lasted_s:.0f} s")

    def ended(self, path: object) -> str:
        """The message of the ``outbox_writable`` event that closes the episode."""
        return (f"outbox {path} takes writes again after {self.lasted_s:.0f} s: stored "
                f"{self.stored} item(s) held in memory, {self.lost} lost (their seqs are the gap)")
