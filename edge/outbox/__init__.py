"""The durable outbox: every item is committed to SQLite before it is sent, and leaves only on Ack.

Policy (docs/edge.md, "Outbox"):

- Each item gets the next seq of its boot in the same transaction that stores it (WAL,
  ``synchronous=FULL``), so a power cut loses no committed item and never repeats a seq. The
  next seq is also kept in a RAM file (:mod:`edge.outbox.seqmark`), so seqs the file could not
  record are not used twice after a restart either.
- It leaves only when the fleet's :class:`~agrifleet.contract.Ack` lists its seq; a seq the fleet
  ``rejected`` moves to the ``dead_letters`` table.
- Over the disk budget, an incoming item evicts stored items of the same or lower importance:
  routine readings first, oldest first, then events, then detections; alerts never make room
  for anything less important. If nothing may go, the incoming item is dropped. A dropped item
  still used its seq, so the fleet sees the gap. The first drop of an episode adds a warning
  event ``outbox_full`` naming what is dropped. ``dropped`` counts only items lost for good
  (an evicted item that was already sent counts only if its batch comes back unacknowledged).
- When the file cannot be written (disk full, read-only or failing card) the outbox is degraded
  (``degraded`` → ``outbox_unwritable``): items are still numbered, held in a bounded memory
  buffer and sent from there, an alert event ``outbox_unwritable`` is queued first; it retries
  every ``retry_s`` (reopening the file if needed), then stores what memory held, recounts its
  budget from the file and adds an info event ``outbox_writable``.
- A damaged or unopenable file raises :class:`OutboxBroken` at open (one line naming the file),
  unless ``on_corrupt = "move-aside"``: then it is kept as ``<name>.broken-<time>`` and a fresh
  file starts with every row that could be read.
- Batches drain by priority (alerts, detections, events, readings); within a priority oldest
  first by default (``drain_order = "newest-first"`` for the freshest state first). A batch holds
  one boot's items in seq order, within ``batch_items`` and ``batch_bytes``.
"""

from agrifleet.edge.outbox.batch import OutgoingBatch
from agrifleet.edge.outbox.database import EXIT_OUTBOX_BROKEN, EXIT_OUTBOX_UNWRITABLE, OutboxBroken
from agrifleet.edge.outbox.store import UNWRITABLE, Outbox, OutboxStats
from agrifleet.edge.outbox.validate import ItemRefused

__all__ = ["EXIT_OUTBOX_BROKEN", "EXIT_OUTBOX_UNWRITABLE", "UNWRITABLE", "ItemRefused",
           "Outbox", "OutboxBroken", "OutboxStats", "OutgoingBatch"]
