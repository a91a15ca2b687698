"""Ingestion counters and the ingest-latency histogram, rendered in Prometheus text format."""

from __future__ import annotations

import bisect
import threading
from collections import Counter
from collections.abc import Iterable

#: Upper bounds (seconds) of the device-time → stored latency histogram.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600)


class Histogram:
    """A Prometheus histogram (cumulative buckets, sum and count)."""

    def __init__(self, bounds: Iterable[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.total = 0.0
        self.count = 0

    def observe_many(self, values: Iterable[float]) -> None:
        """Add observations; a negative one (a clock ahead of the fleet's) counts as zero."""
        for v in values:
            v = max(v, 0.0)
            self.counts[bisect.bisect_left(self.bounds, v)] += 1
            self.total += v
            self.count += 1

    def lines(self, name: str) -> list[str]:
        out, running = [], 0
        for bound, n in zip((*self.bounds, float("inf")), self.counts, strict=True):
            running += n
            le = "+Inf" if bound == float("inf") else f"{bound:g}"
            out.append(f'{name}_bucket{{le="{le}"}} {running}')
        out += [f"{name}_sum {self.total:.6f}", f"{name}_count {self.count}"]
        return out


class Metrics:
    """Thread-safe counters shared by the MQTT thread, the writer and the API."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.messages_ingested: Counter[str] = Counter()  # by topic leaf: messages, status
        self.messages_refused: Counter[str] = Counter()  # by reason
        self.items_stored: Counter[str] = Counter()  # by kind, new rows only
        self.items_duplicate: Counter[str] = Counter()  # by kind, already stored
        self.items_rejected: Counter[str] = Counter()  # by reason
        self.conflicts = 0  # items whose seq was stored with other content
        self.acks_published = 0
        self.transactions = 0
        self.write_retries = 0
        self.latency = Histogram(LATENCY_BUCKETS)
        self.sign_ins: Counter[str] = Counter()  # by outcome: ok, failed, throttled

    def sign_in(self, outcome: str) -> None:
        with self._lock:
            self.sign_ins[outcome] += 1

    def refuse(self, reason: str, n: int = 1) -> None:
        with self._lock:
            self.messages_refused[reason] += n

    def retry(self) -> None:
        with self._lock:
            self.write_retries += 1

    def record_transaction(
        self,
        ingested: Counter[str],
        stored: Counter[str],
        duplicate: Counter[str],
        rejected: Counter[str],
        latencies: list[float],
        acks: int,
        conflicts: int = 0,
    ) -> None:
        """Add one committed transaction's figures."""
        with self._lock:
            self.messages_ingested.update(ingested)
            self.items_stored.update(stored)
            self.items_duplicate.update(duplicate)
            self.items_rejected.update(rejected)
            self.latency.observe_many(latencies)
            self.acks_published += acks
            self.conflicts += conflicts
            self.transactions += 1

    def render(self, devices_online: int, devices_known: int, queue_depth: int) -> str:
        """The Prometheus text exposition (format 0.0.4)."""
        with self._lock:
            lines: list[str] = []

            def family(name: str, kind: str, doc: str) -> None:
                lines.append(f"# HELP {name} {doc}")
                lines.append(f"# TYPE {name} {kind}")

            def labelled(name: str, label: str, counts: Counter[str]) -> None:
                for key in sorted(counts):
                    lines.append(f'{name}{{{label}="{key}"}} {counts[key]}')

            family("agrifleet_messages_ingested_total", "counter", "MQTT messages stored")
            labelled("agrifleet_messages_ingested_total", "topic", self.messages_ingested)
            family(
                "agrifleet_messages_refused_total", "counter", "MQTT messages refused, by reason"
            )
            labelled("agrifleet_messages_refused_total", "reason", self.messages_refused)
            family("agrifleet_items_stored_total", "counter", "Items newly stored, by kind")
            labelled("agrifleet_items_stored_total", "kind", self.items_stored)
            family(
                "agrifleet_items_duplicate_total", "counter", "Items received again, stored once"
            )
            labelled("agrifleet_items_duplicate_total", "kind", self.items_duplicate)
            family(
                "agrifleet_items_rejected_total", "counter", "Items refused in an ack, by reason"
            )
            labelled("agrifleet_items_rejected_total", "reason", self.items_rejected)
            family("agrifleet_conflicts_total", "counter",
                   "Items whose (device, boot, seq) was stored with other content: rejected")
            lines.append(f"agrifleet_conflicts_total {self.conflicts}")
            family("agrifleet_acks_published_total", "counter", "Acks sent to devices")
            lines.append(f"agrifleet_acks_published_total {self.acks_published}")
            family("agrifleet_write_transactions_total", "counter", "Writer commits")
            lines.append(f"agrifleet_write_transactions_total {self.transactions}")
            family(
                "agrifleet_write_retries_total", "counter", "Transactions retried, database away"
            )
            lines.append(f"agrifleet_write_retries_total {self.write_retries}")
            family("agrifleet_ingest_queue_depth", "gauge", "Messages waiting for the writer")
            lines.append(f"agrifleet_ingest_queue_depth {queue_depth}")
            family("agrifleet_devices_online", "gauge",
                   "Devices whose last status is online, heard from within offline_after_s")
            lines.append(f"agrifleet_devices_online {devices_online}")
            family("agrifleet_devices_registered", "gauge", "Devices registered in the fleet")
            lines.append(f"agrifleet_devices_registered {devices_known}")
            family(
                "agrifleet_ingest_latency_seconds",
                "histogram",
                "Device timestamp to database commit: readings and detections from a synced clock, "
                "not dated in the future",
            )
            lines += self.latency.lines("agrifleet_ingest_latency_seconds")
            family("agrifleet_sign_ins_total", "counter",
                   "Sign-in attempts by outcome: ok, failed, throttled")
            labelled("agrifleet_sign_ins_total", "outcome", self.sign_ins)
        return "\n".join(lines) + "\n"
