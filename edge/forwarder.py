"""Moves batches from the outbox onto the link, with a bounded number awaiting the fleet's Ack.

A batch that is not fully acknowledged within ``ack_timeout_s``, or whose session ended, goes
back in line and is sent again (the fleet stores idempotently by boot and seq). When the fleet
announces it is back (:meth:`Forwarder.resend_now`), everything in flight goes again at once;
while it is known to be away (:meth:`Forwarder.fleet_away`), the timeout is ten times longer:
resending would only pile copies into the broker's queue for it (and the longer timeout still
frees the window should a fleet that does not announce itself take over).

Up to ``max_inflight`` batches of any kind await acks. Beyond them one more slot is kept for a
batch without readings (alerts, detections, events) and one for alerts alone, so an alert is
never stuck behind a full window of unacknowledged readings.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from agrifleet.contract import Ack
from agrifleet.edge.items import Priority
from agrifleet.edge.outbox import Outbox, OutgoingBatch

log = logging.getLogger(__name__)

#: The slots kept beyond max_inflight, one each: for batches of at most this priority.
RESERVED_SLOTS = (Priority.EVENT, Priority.ALERT)
#: While the fleet says it is offline, the ack timeout is this many times longer.
AWAY_FACTOR = 10


@dataclass
class _InFlight:
    batch: OutgoingBatch
    sent_at: float
    waiting: set[int] = field(default_factory=set)
    #: The least important priority the batch may hold (READING: the shared window).
    slot: Priority = Priority.READING


class Forwarder:
    """Sends at most ``max_inflight`` unacknowledged batches (plus the reserved slots)."""

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
        #: Batches sent again, for any reason; ``expired`` counts those after ack_timeout_s.
        self.resends = 0
        self.expired = 0
        #: Times the fleet's return made everything in flight go again (resend_now).
        self.fleet_returns = 0
        self._fleet_away = False

    def pump(self) -> int:
        """Expire overdue batches, then send while there is room; returns batches sent."""
        with self._lock:
            self._expire()
            return self._fill()

    def _fill(self) -> int:
        sent = 0
        while (slot := self._free_slot()) is not None:
            batch = self._outbox.take_batch(slot)
            if batch is None:
                break
            if not self._publish(batch.payload):
                self._outbox.release(batch)
                break
            self._inflight.append(_InFlight(batch, self._now(), set(batch.seqs), slot))
            self.batches_sent += 1
            sent += 1
        return sent

    def _free_slot(self) -> Priority | None:
        """The least restrictive kind of batch there is room for, or None."""
        if sum(e.slot == Priority.READING for e in self._inflight) < self.max_inflight:
            return Priority.READING
        for slot in RESERVED_SLOTS:
            if not any(e.slot == slot for e in self._inflight):
                return slot
        return None

    def _expire(self) -> None:
        now = self._now()
        # Away, its return (resend_now) sends everything again; the timeout is a last resort.
        timeout = self.ack_timeout_s * (AWAY_FACTOR if self._fleet_away else 1)
        keep: list[_InFlight] = []
        for entry in self._inflight:
            if now - entry.sent_at >= timeout:
                log.info("no ack for %d item(s) of boot %s within %.0f s; sending again",
                         len(entry.waiting), entry.batch.boot_id, self.ack_timeout_s)
                self._outbox.release(entry.batch)
                self.resends += 1
                self.expired += 1
            else:
                keep.append(entry)
        self._inflight = keep

    def fleet_away(self) -> None:
        """The fleet said it is offline: hold what is in flight until it is back."""
        with self._lock:
            self._fleet_away = True

    def resend_now(self) -> int:
        """The fleet is back: send every unacknowledged batch again now; returns batches sent."""
        with self._lock:
            self._fleet_away = False
            waiting = len(self._inflight)
            self._release_all()
            self.fleet_returns += 1
            sent = self._fill()
        if waiting:
            log.info("fleet is back: sent %d batch(es) again (%d were awaiting an ack)",
                     sent, waiting)
        return sent

    def on_ack(self, ack: Ack) -> None:
        """Drop acknowledged items from the outbox and close the batches they complete."""
        done = self._outbox.ack(ack)
        with self._lock:
            self._fleet_away = False  # whoever acks is there
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
            self._release_all()

    def _release_all(self) -> None:
        for entry in self._inflight:
            self._outbox.release(entry.batch)
        self.resends += len(self._inflight)
        self._inflight = []

    @property
    def inflight(self) -> int:
        return len(self._inflight)
