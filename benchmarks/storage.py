"""Storage throughput: the fleet's writer on a real database, without the broker in the way.

Builds the MQTT payloads first (a backlog drain: ``--batch-size`` readings per batch, 500 by
default, or live traffic: 7 quantities per batch from many devices), then hands them to
:class:`fleet.telemetry.writer.Writer` in groups as its thread would take them from the inbox (up
to 2,000
messages or about 2 MiB), and reports readings stored per second, checking every reading was
stored once and every batch acknowledged. ``--profile`` prints a cProfile of the run.

    nice -n 10 .venv/bin/python -m benchmarks.storage [--postgres] [--devices 20]
        [--batches 50] [--batch-size 500] [--live] [--redeliver] [--profile]
        [--record docs/performance.md --tag storage-pg]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from agrifleet.contract import Ack, messages_topic
from agrifleet.fleet.db import make_engine
from agrifleet.fleet.devices.tables import Device
from agrifleet.fleet.metrics import Metrics
from agrifleet.fleet.migrate import upgrade
from agrifleet.fleet.telemetry.tables import Reading
from agrifleet.fleet.telemetry.writer import _MAX_GROUP_BYTES, Incoming, Writer
from benchmarks.ingest import record
from benchmarks.record import commit, machine

PREFIX = "agrifleet"
#: What a node's poll reports: 7 quantities.
QUANTITIES = (
    ("soil", "moisture", "%"), ("soil", "temperature", "C"), ("air", "temperature", "C"),
    ("air", "humidity", "%"), ("light", "lux", "lx"), ("gps", "latitude", "deg"),
    ("gps", "longitude", "deg"),
)  # fmt: skip


def payloads(devices: int, batches: int, size: int, start: datetime) -> list[Incoming]:
    """Every device's batches, interleaved as the broker would deliver them."""
    out: list[Incoming] = []
    for b in range(batches):
        for d in range(devices):
            dev = f"bench-{d:04d}"
            items = []
            for i in range(size):
                seq = b * size + i
                sensor, quantity, unit = QUANTITIES[seq % len(QUANTITIES)]
                ts = start + timedelta(seconds=10 * (seq // len(QUANTITIES)))
                items.append({"kind": "reading", "seq": seq, "ts": ts.isoformat(),
                              "uptime_s": float(seq), "sensor": sensor, "quantity": quantity,
                              "value": 20.0 + (seq * 7919 % 1000) / 100, "unit": unit})  # fmt: skip
            body = {"v": 1, "device_id": dev, "boot_id": "bench", "items": items}
            out.append(Incoming(messages_topic(PREFIX, dev), json.dumps(body).encode(), qos=1))
    return out


def groups(messages: list[Incoming], max_messages: int = 2000) -> list[list[Incoming]]:
    """The groups the writer thread would form from a full inbox."""
    out: list[list[Incoming]] = []
    current: list[Incoming] = []
    size = 0
    for m in messages:
        if current and (len(current) >= max_messages or size >= _MAX_GROUP_BYTES):
            out.append(current)
            current, size = [], 0
        current.append(m)
        size += len(m.payload)
    if current:
        out.append(current)
    return out


def run(database_url: str | None, devices: int, batches: int, size: int, redeliver: bool,
        profile: bool) -> dict[str, Any]:  # fmt: skip
    machine_text = machine()
    work = Path(tempfile.mkdtemp(prefix="agrifleet-storage-"))
    url = database_url or f"sqlite:///{work / 'fleet.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as session:
        for d in range(devices):
            session.add(Device(id=f"bench-{d:04d}"))
        session.commit()
    acks: list[Ack] = []
    writer = Writer(engine, Metrics(), PREFIX, lambda _dev, ack: acks.append(ack))
    start = datetime.now(UTC) - timedelta(days=30)
    messages = payloads(devices, batches, size, start)
    work_groups = groups(messages)
    if redeliver:  # every message a second time, as after a worker's crash
        work_groups += groups(messages)
    profiler = cProfile.Profile() if profile else None
    began = time.perf_counter()
    if profiler:
        profiler.enable()
    for group in work_groups:
        writer.write(group)
    if profiler:
        profiler.disable()
    elapsed = time.perf_counter() - began
    with Session(engine) as session:
        stored = session.execute(select(func.count()).select_from(Reading)).scalar_one()
    engine.dispose()
    total = devices * batches * size
    if profiler:
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
    handled = total * (2 if redeliver else 1)
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit(),
        "machine": machine_text,
        "database": "PostgreSQL" if url.startswith("postgresql") else
        "SQLite (WAL, synchronous=FULL)",
        "devices": devices, "batches": batches, "batch_size": size, "redeliver": redeliver,
        "readings": total, "stored": stored, "lost": total - stored,
        "acks": len(acks), "acks_expected": len(messages) * (2 if redeliver else 1),
        "transactions": len(work_groups), "seconds": elapsed,
        "readings_per_s": handled / elapsed,
        "batches_per_s": len(messages) * (2 if redeliver else 1) / elapsed,
    }  # fmt: skip


def as_markdown(r: dict[str, Any]) -> str:
    again = " each delivered twice (the second time all resends)," if r["redeliver"] else ""
    return "\n".join([
        f"Run {r['date']}, commit `{r['commit']}`, {r['machine']}; {r['database']}.",
        f"{r['devices']} devices × {r['batches']} batches × {r['batch_size']} readings = "
        f"{r['readings']:,} readings,{again} written by the fleet's writer in "
        f"{r['transactions']:,} transactions (no broker: payload bytes → ack).",
        "",
        "| measure | value |",
        "| --- | --- |",
        f"| readings handled per second | **{r['readings_per_s']:,.0f}** |",
        f"| batches per second | {r['batches_per_s']:,.0f} |",
        f"| readings stored / sent (lost) | {r['stored']:,} / {r['readings']:,} ({r['lost']}) |",
        f"| acks | {r['acks']:,} / {r['acks_expected']:,} |",
        "",
    ])  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=20)
    parser.add_argument("--batches", type=int, default=50, help="batches per device")
    parser.add_argument("--batch-size", type=int, default=500, help="readings per batch")
    parser.add_argument("--live", action="store_true",
                        help="live traffic: 7 readings per batch (overrides --batch-size)")
    parser.add_argument("--redeliver", action="store_true", help="deliver everything twice")
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temp dir")
    parser.add_argument("--postgres", action="store_true",
                        help="start a private PostgreSQL (tests/services.py; fsync off)")
    parser.add_argument("--profile", action="store_true", help="cProfile to stderr")
    parser.add_argument("--record", type=Path, help="write the result into this markdown file")
    parser.add_argument("--tag", default="storage", help="<!-- benchmark:TAG:… --> markers")
    args = parser.parse_args()
    size = len(QUANTITIES) if args.live else args.batch_size
    if args.postgres:
        from tests.services import running_postgres

        with running_postgres() as server:
            result = run(server.create_database(), args.devices, args.batches, size,
                         args.redeliver, args.profile)  # fmt: skip
            result["database"] = "PostgreSQL (private test cluster, fsync off)"
    else:
        result = run(args.database_url, args.devices, args.batches, size, args.redeliver,
                     args.profile)  # fmt: skip
    markdown = as_markdown(result)
    print(markdown)
    if args.record:
        record(markdown, args.record, args.tag)
    return 0 if result["lost"] == 0 and result["acks"] == result["acks_expected"] else 1


if __name__ == "__main__":
    sys.exit(main())
