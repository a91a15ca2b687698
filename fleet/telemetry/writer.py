"""The writer thread: many MQTT messages per transaction, bulk inserts, acks only after commit.

A message that cannot be stored never holds up the others. Everything that can be checked is
checked before the transaction (fleet/telemetry/parse.py); should the database still refuse a
transaction
for anything but an outage, the writer stores each half on its own down to the failing
message, and inside it finds the failing items by bisection in transactions it rolls back.
Those items are rejected in the ack (the node dead-letters them), the rest is stored and
acknowledged. Only an outage (OperationalError, InterfaceError: the database is away) leaves
messages unacknowledged and retries them.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import InterfaceError, OperationalError

from agrifleet.contract import MAX_PAYLOAD_BYTES, Ack, device_from_topic, seq_ranges
from agrifleet.fleet.columns import utcnow
from agrifleet.fleet.metrics import Metrics
from agrifleet.fleet.telemetry import gaps, partitions, rollups
from agrifleet.fleet.telemetry.conflicts import Conflict, Resends, conflict_events, sort_resends
from agrifleet.fleet.telemetry.parse import CheckedBatch, CheckedStatus, Refusal, parse_message
from agrifleet.fleet.telemetry.rows import KINDS, BootKey, Rows, collect_rows
from agrifleet.fleet.telemetry.store import BootState, Store
from agrifleet.fleet.telemetry.write_lock import SOLE_WRITER, WriteLock

log = logging.getLogger(__name__)

#: ``send_ack(device_id, ack)`` publishes on the device's ack topic.
SendAck = Callable[[str, Ack], None]
Checked = CheckedBatch | CheckedStatus
#: The database is away: keep the messages unacknowledged and retry.
OUTAGE = (OperationalError, InterfaceError)
_BOOT_CACHE_SIZE = 4096
_MAX_GROUP_BYTES = 2 * 1024 * 1024  # about 15,000 readings per transaction
#: Rolled-back trials to find the failing items of one message: a few bad items among 5000.
_MAX_TRIALS = 128


@dataclass(frozen=True, slots=True)
class Incoming:
    """One MQTT message as the network thread received it."""

    topic: str
    payload: bytes
    #: The broker's packet id, QoS and the ingestor's session number, for the deferred PUBACK.
    mid: int = 0
    qos: int = 0
    session: int = 0


#: ``on_done(messages)``: the messages are stored or refused for good (PUBACK them now).
OnDone = Callable[[list["Incoming"]], None]


@dataclass
class _Committed:
    """What a committed transaction did, for the acks and the metrics."""

    rows: Rows
    stored: Counter[str]
    duplicate: Counter[str]
    resends: Resends
    boots: dict[BootKey, BootState]


class _Probe(Exception):
    """Raised inside a trial transaction to roll it back."""


class _RateLimitedLog:
    """At most one warning per key every ``every`` seconds, with the count in between."""

    def __init__(self, every: float = 10.0) -> None:
        self.every = every
        self._last: dict[str, float] = {}
        self._skipped: Counter[str] = Counter()

    def warn(self, key: str, text: str) -> None:
        now = time.monotonic()
        if now - self._last.get(key, -self.every) < self.every:
            self._skipped[key] += 1
            return
        skipped = self._skipped.pop(key, 0)
        more = f" (and {skipped} more since the last report)" if skipped else ""
        self._last[key] = now
        log.warning("%s%s", text, more)


def _short(exc: BaseException) -> str:
    """One line naming a storage failure (the driver's message, not the SQL and its values)."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0] if lines else 'no message'}"[:200]


class Writer:
    """Stores checked messages; the single writer of items, boots and device state."""

    def __init__(
        self,
        engine: Engine,
        metrics: Metrics,
        prefix: str,
        send_ack: SendAck,
        on_done: OnDone = lambda messages: None,
        future_tolerance_s: float = 300.0,
        max_seq_jump: int = 1_000_000_000,
        lock: WriteLock = SOLE_WRITER,
    ) -> None:
        self.engine = engine
        #: Alone on the database, or one of several workers (fleet/telemetry/write_lock.py).
        self.lock = lock
        self.metrics = metrics
        self.prefix = prefix
        self.send_ack = send_ack
        self.on_done = on_done
        self.future_tolerance_s = future_tolerance_s
        self.max_seq_jump = max_seq_jump
        self.store = Store(engine)
        self._known: set[str] = set()
        #: Revoked devices (Device.revoked_at): their messages are refused, and acknowledged.
        self._revoked: set[str] = set()
        #: Both sets are read again this often: a revocation by another process (the CLI)
        #: takes effect within it; one through this process's API at once (``forget``).
        self.device_recheck_s = 5.0
        self._devices_read_at = time.monotonic()
        self._boots: OrderedDict[BootKey, BootState] = OrderedDict()
        self._refusal_log = _RateLimitedLog()
        self._conflict_log = _RateLimitedLog()

    # --- the thread ------------------------------------------------------------------------

    def run(
        self, inbox: queue.Queue[Incoming], stop: threading.Event, max_messages: int = 2000
    ) -> None:
        """Drain ``inbox`` until ``stop`` is set and the inbox is empty."""
        partitions.prepare(self.engine)  # this month's and the next ones' (PostgreSQL)
        while True:
            try:
                first = inbox.get(timeout=0.2)
            except queue.Empty:
                if stop.is_set():
                    return
                continue
            group, size = [first], len(first.payload)
            while len(group) < max_messages and size < _MAX_GROUP_BYTES:
                try:
                    message = inbox.get_nowait()
                except queue.Empty:
                    break
                group.append(message)
                size += len(message.payload)
            self._write_until_done(group, stop)

    def _write_until_done(self, group: list[Incoming], stop: threading.Event) -> None:
        """Store the group, retrying while the database is away; then ``on_done`` (PUBACK)."""
        delay = 0.5
        while True:
            try:
                self.write(group)
                break
            except (OperationalError, InterfaceError) as exc:
                self.metrics.retry()
                log.warning(
                    "database unavailable (%s); retrying %d messages in %.1fs",
                    type(exc.orig).__name__ if exc.orig else exc,
                    len(group),
                    delay,
                )
            except Exception:
                # Unacknowledged messages are sent again by their devices; the worker goes on.
                log.exception("could not store %d messages; they stay unacknowledged", len(group))
                break  # released to the broker all the same: it must not wait for them forever
            if stop.wait(delay):  # not released: the broker delivers them again at the next start
                log.warning("stopping with %d messages unstored (devices resend them)", len(group))
                return
            delay = min(delay * 2, 30.0)
        self.on_done(group)

    # --- a group of messages ---------------------------------------------------------------

    def write(self, messages: Iterable[Incoming]) -> None:
        """Check, store (isolating what fails), then acknowledge the given messages."""
        checked = self._only_known(self._check(messages))
        if not checked:
            return
        self._load_boots(checked)
        self._refuse_seq_jumps(checked)
        self._store_halving(checked)

    def refuse_oversized(self, topic: str, size: int) -> None:
        """Count and log a message too large to take in (called by the network thread)."""
        where = device_from_topic(self.prefix, topic)
        detail = f"{size} bytes > {MAX_PAYLOAD_BYTES}"
        self._refuse(Refusal("oversized", detail, where[0] if where else None))

    def _check(self, messages: Iterable[Incoming]) -> list[Checked]:
        checked: list[Checked] = []
        for message in messages:
            if not message.payload and message.topic.endswith("/status"):
                continue  # a retained status being cleared, not a message
            try:
                result = parse_message(self.prefix, message.topic, message.payload)
            except Exception:  # a bug in checking must not stop the worker
                log.exception("could not check a message on %s", message.topic[:200])
                result = Refusal("invalid_payload", "unexpected error while checking")
            if isinstance(result, Refusal):
                self._refuse(result)
            else:
                checked.append(result)
        return checked

    def _refuse(self, refusal: Refusal) -> None:
        self.metrics.refuse(refusal.reason)
        who = f"device {refusal.device_id!r}" if refusal.device_id else "unknown sender"
        self._refusal_log.warn(
            refusal.reason, f"refused a message ({refusal.reason}): {who}: {refusal.detail}"
        )

    def forget(self, device_id: str) -> None:
        """Read the device's row again before its next message (it was revoked or enrolled)."""
        self._known.discard(device_id)
        self._revoked.discard(device_id)

    def _only_known(self, checked: list[Checked]) -> list[Checked]:
        if time.monotonic() - self._devices_read_at > self.device_recheck_s:
            self._known.clear()
            self._revoked.clear()
            self._devices_read_at = time.monotonic()
        asked = {c.device_id for c in checked} - self._known - self._revoked
        if asked:
            t = self.store.t_device
            with self.engine.connect() as conn:
                found = conn.execute(
                    select(t.c.id, t.c.revoked_at).where(t.c.id.in_(asked))).all()
            self._known.update(row.id for row in found if row.revoked_at is None)
            self._revoked.update(row.id for row in found if row.revoked_at is not None)
        kept = []
        for c in checked:
            if c.device_id in self._revoked:
                self._refuse(Refusal("revoked_device", "revoked (POST /api/v1/devices/{id}/"
                                     "revoke); enrol it again with a new code", c.device_id))
            elif c.device_id in self._known:
                kept.append(c)
            else:
                self._refuse(
                    Refusal("unknown_device", "not registered (POST /api/v1/devices)", c.device_id)
                )
        return kept

    def _load_boots(self, checked: list[Checked]) -> None:
        """Bring the received ranges of the boots in ``checked`` into the cache."""
        keys = {(c.device_id, c.boot_id) for c in checked if isinstance(c, CheckedBatch)}
        missing = sorted(keys - self._boots.keys())
        if missing:
            with self.engine.connect() as conn:
                self._remember_boots(self.store.load_boots(conn, missing))

    def _remember_boots(self, boots: dict[BootKey, BootState]) -> None:
        self._boots.update(boots)
        for key in boots:
            self._boots.move_to_end(key)
        while len(self._boots) > _BOOT_CACHE_SIZE:
            self._boots.popitem(last=False)

    def _refuse_seq_jumps(self, checked: list[Checked]) -> None:
        """Reject items whose seq leaps more than ``max_seq_jump`` past the boot's highest."""
        highest: dict[BootKey, int] = {}
        for c in checked:
            if not isinstance(c, CheckedBatch):
                continue
            key = (c.device_id, c.boot_id)
            if key not in highest:
                state = self._boots.get(key)
                highest[key] = state[1][-1][1] if state and state[1] else gaps.FIRST_SEQ - 1
            top, leaps = highest[key], {}
            for seq in sorted(c.accepted_seqs()):
                if seq - top > self.max_seq_jump:
                    leaps[seq] = (f"seq_jump: seq {seq} is more than {self.max_seq_jump} past "
                                  f"the highest seq {top} received of this boot")  # fmt: skip
                else:
                    top = max(top, seq)
            highest[key] = top
            c.reject(leaps, impossible=True)

    # --- isolation -------------------------------------------------------------------------

    def _store_halving(self, checked: list[Checked]) -> None:
        """Store in one transaction; if that fails (not an outage), each half on its own, down
        to the single message that fails, so the others are stored with few transactions."""
        try:
            self._store(checked)
            return
        except OUTAGE:
            raise
        except Exception as exc:
            if len(checked) == 1:
                self._store_alone(checked[0], exc)
                return
            log.info("a transaction of %d messages failed (%s); storing them in halves",
                     len(checked), _short(exc))  # fmt: skip
        middle = len(checked) // 2
        self._store_halving(checked[:middle])
        self._store_halving(checked[middle:])

    def _store_alone(self, one: Checked, failure: Exception) -> None:
        """Store what can be of one message the database refused; reject the failing items."""
        if isinstance(one, CheckedBatch) and one.accepted_seqs():
            poison = self._find_poison(one)
            if poison:
                log.error("the database refused %d item(s) of device %r, boot %r (%s); "
                          "rejecting them, storing the rest", len(poison), one.device_id,
                          one.boot_id, next(iter(poison.values())))  # fmt: skip
                one.reject(poison)
                try:
                    self._store([one])
                    return
                except OUTAGE:
                    raise
                except Exception as exc:
                    failure = exc
        log.error("the database refused a message from %r: %s", one.device_id, _short(failure))
        self._refuse(Refusal("storage_error", _short(failure), one.device_id))

    def _find_poison(self, batch: CheckedBatch) -> dict[int, str]:
        """seq → reason for the items that fail alone, by bisection in rolled-back trials.

        Empty when the items are not to blame: the message fails without any of them, every
        one of several fails (a broken table rather than bad data: the node keeps them and
        sends them again), or the search needs more than ``_MAX_TRIALS`` trials.
        """
        found: dict[int, str] = {}
        budget = [_MAX_TRIALS]

        def fails(seqs: list[int]) -> Exception | None:
            budget[0] -= 1
            try:
                self._trial(batch.only(set(seqs)))
            except OUTAGE:
                raise
            except Exception as exc:
                return exc
            return None

        def search(seqs: list[int]) -> None:
            if budget[0] <= 0:
                return
            failure = fails(seqs)
            if failure is None:
                return
            if len(seqs) == 1:
                found[seqs[0]] = f"storage_error: {_short(failure)}"
                return
            middle = len(seqs) // 2
            search(seqs[:middle])
            search(seqs[middle:])

        seqs = sorted(set(batch.accepted_seqs()))
        if fails([]) is not None:
            return {}
        search(seqs)
        if budget[0] <= 0 or (len(seqs) > 1 and len(found) == len(seqs)):
            return {}
        return found

    def _trial(self, batch: CheckedBatch) -> None:
        """Run the transaction that would store ``batch``, then roll it back."""
        try:
            with self.engine.begin() as conn:
                self._write(conn, collect_rows([batch], utcnow(), self.future_tolerance_s,
                                               self.store.sqlite_time))  # fmt: skip
                raise _Probe
        except _Probe:
            pass

    # --- one transaction -------------------------------------------------------------------

    def _store(self, checked: list[Checked]) -> None:
        """Collect the rows, write them in one transaction, then acknowledge and count."""
        rows = collect_rows(checked, utcnow(), self.future_tolerance_s, self.store.sqlite_time)
        with self.engine.begin() as conn:
            done = self._write(conn, rows)
        # Committed: from here on, devices may forget these items.
        self._remember_boots(done.boots)
        self._report_conflicts(done.resends.conflicts)
        acks = self._acknowledge(checked, done.resends.conflicts)
        self._count(done, acks)

    def _write(self, conn: Connection, rows: Rows) -> _Committed:
        """The statements of one transaction: items, resends, latest, boots, devices."""
        self.lock.before_write(conn, rows)
        stored: Counter[str] = Counter()
        duplicate: Counter[str] = Counter()
        new: dict[str, set[int]] = {}
        for kind in KINDS:
            items = rows.items[kind]
            if not items:
                continue
            if kind == "reading":
                new[kind] = set(self.store.insert_readings(conn, items))
                stored[kind] = len(new[kind])
            else:
                stored[kind] = self.store.insert_new(conn, kind, items)
            duplicate[kind] = len(items) - stored[kind]
        resends = sort_resends(conn, self.store, rows, [k for k in KINDS if duplicate[k]], new)
        for c in resends.conflicts:
            duplicate[c.kind] -= 1
        self.store.add_fleet_events(conn, conflict_events(resends.conflicts, rows.now))
        self.store.upsert_latest(conn, rows.latest)
        self._roll_up(conn, rows, sorted(new.get("reading", ())), resends)
        known = self._boots_for(conn, rows)
        boots = self.store.update_boots(conn, known, rows.boot_seqs, rows.now)
        self.store.update_devices(conn, rows)
        return _Committed(rows, stored, duplicate, resends, boots)

    def _roll_up(self, conn: Connection, rows: Rows, new: list[int], resends: Resends) -> None:
        """Add the readings stored now to the rollups; count moved readings' buckets again."""
        items, sources = rows.items["reading"], rows.sources["reading"]
        rollups.add(conn, rollups.aggregate(
            (items[i][0], items[i][7], items[i][8], sources[i][1].ts, items[i][9]) for i in new
        ))  # fmt: skip
        if resends.moved:
            again: set[tuple[int, str, str, str, int]] = set()
            for dev, sensor, quantity, old, ts in resends.moved:
                if isinstance(old, str):  # SQLite's text, UTC
                    old = datetime.fromisoformat(old).replace(tzinfo=UTC)
                again |= rollups.buckets_of(dev, sensor, quantity, old)
                again |= rollups.buckets_of(dev, sensor, quantity, ts)
            rollups.recount(conn, again)

    def _boots_for(self, conn: Connection, rows: Rows) -> dict[BootKey, BootState]:
        if self.lock.reads_committed_boots:  # as committed, whichever worker stored them
            return self.store.load_boots(conn, list(rows.boot_seqs))
        known = {key: self._boots[key] for key in rows.boot_seqs if key in self._boots}
        missing = [key for key in rows.boot_seqs if key not in known]
        if missing:  # more boots than the cache holds
            known.update(self.store.load_boots(conn, missing))
        return known

    def _acknowledge(self, checked: list[Checked], conflicts: list[Conflict]) -> int:
        """One ack per batch: its stored seqs, and its rejected ones with the reason."""
        clashes: dict[int, dict[int, str]] = {}
        for conflict in conflicts:
            clashes.setdefault(conflict.message, {})[conflict.seq] = conflict.reason
        acks = 0
        for index, c in enumerate(checked):
            if not isinstance(c, CheckedBatch):
                continue
            rejected = {**c.rejected, **clashes.get(index, {})}
            stored = [s for s in c.accepted_seqs() if s not in rejected]
            self.send_ack(c.device_id, Ack(boot_id=c.boot_id, ranges=seq_ranges(stored),
                                           rejected=rejected))  # fmt: skip
            acks += 1
        return acks

    def _report_conflicts(self, conflicts: list[Conflict]) -> None:
        for c in conflicts:
            self._conflict_log.warn(
                "conflict",
                f"conflicting duplicate from device {c.device_id!r}, boot {c.boot_id!r}: "
                f"{c.kind} seq {c.seq} is stored with another {', '.join(c.differs)}; "
                "kept the stored one",
            )

    def _count(self, done: _Committed, acks: int) -> None:
        rows = done.rows
        rejected = rows.rejected + Counter("duplicate_conflict" for _ in done.resends.conflicts)
        lag = time.time() - rows.now.timestamp()  # from the rows' "now" to the commit
        self.metrics.record_transaction(
            rows.ingested, done.stored, done.duplicate, rejected,
            [latency + lag for latency in rows.latencies], acks,
            conflicts=len(done.resends.conflicts),
        )  # fmt: skip
