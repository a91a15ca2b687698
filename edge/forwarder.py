"""Moves batches from the outbox onto the link, with a bounded number awaiting the fleet's Ack.

A batch that is not fully acknowledged within ``ack_timeout_s``, or whose session ended, goes
back in line and is sent again (the fleet stores idempotently by boot and seq).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from agrifleet.contract import Ack
from edge.outbox import Outbox, OutgoingBatch

log = logging.getLogger(__name__)


@dataclass
class _InFlight:
    batch: OutgoingBatch
    sent_at: float
    waiting: set[int] = field(default_factory=set)


class Forwarder:
    """Sends at most ``max_inflight`` unacknowledged batches; call :meth:`pump` often."""

    def __init__(
        self,
        outbox: Outbox,
        publish: Callable[[bytes], bool],
        *,
        max_inflight: int = 4,
        ack_timeout_s: float = 30.0,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self._outbox = outbox
        self._publish = publish
        self.max_inflight = max_inflight
        self.ack_timeout_s = ack_timeout_s
        self._now = now
        self._inflight: list[_InFlight] = []
        self._lock = threading.Lock()
        self.batches_sent = 0
        self.resends = 0

    def pump(self) -> int:
        """Expire overdue batches, then send while there is room; returns batches sent."""
        sent = 0
        with self._lock:
            self._expire()
            while len(self._inflight) < self.max_inflight:
                batch = self._outbox.take_batch()
                if batch is None:
                    break
                if not self._publish(batch.payload):
                    self._outbox.release(batch)
                    break
                self._inflight.append(_InFlight(batch, self._now(), set(batch.seqs)))
                self.batches_sent += 1
                sent += 1
        return sent

    def _expire(self) -> None:
        now = self._now()
        keep: list[_InFlight] = []
        for entry in self._inflight:
            if now - entry.sent_at >= self.ack_timeout_s:
                log.info("no ack for %d item(s) of boot %s within %.0f s; sending again",
                         len(entry.waiting), entry.batch.boot_id, self.ack_timeout_s)
                self._outbox.release(entry.batch)
                self.resends += 1
            else:
                keep.append(entry)
        self._inflight = keep

    def on_ack(self, ack: Ack) -> None:
        """Drop acknowledged items from the outbox and close the batches they complete."""
        done = self._outbox.ack(ack)
        with self._lock:
            for entry in self._inflight:
                if entry.batch.boot_id == ack.boot_id:
                    entry.waiting = {
                        s for s in entry.waiting - done
                        if not any(first <= s <= last for first, last in ack.ranges)
                    }
            self._inflight = [e for e in self._inflight if e.waiting]

    def on_disconnected(self) -> None:
        """The session ended: everything unacknowledged will be sent again on the next one."""
        with self._lock:
            for entry in self._inflight:
                self._outbox.release(entry.batch)
            if self._inflight:
                self.resends += len(self._inflight)
            self._inflight = []

    @property
    def inflight(self) -> int:
        return len(self._inflight)
