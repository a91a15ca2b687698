"""Ingest throughput: simulated devices → a real Mosquitto → the fleet's ingestion → the database.

Starts its own Mosquitto on a free port and a fresh database (SQLite in a temp dir unless
``--database-url`` says otherwise), registers the devices, then every device (a real paho client
with its own credentials) publishes its batches as fast as the broker takes them. A bare
subscriber receives the same messages, so the broker's raw throughput is measured in the same
run. Reports readings stored per second, device-time → committed latency (p50/p99, measured at
the moment each ack is sent, which is after the commit), and checks nothing was lost.

    .venv/bin/python -m benchmarks.ingest [--devices 20] [--batches 100] [--batch-size 100]
        [--rate READINGS_PER_S] [--postgres] [--record docs/fleet.md --tag max]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import secrets
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from sqlalchemy import func, select
from sqlmodel import Session

from agrifleet.contract import Ack, messages_topic
from agrifleet.fleet.db import make_engine
from agrifleet.fleet.devices.tables import Device
from agrifleet.fleet.metrics import Metrics
from agrifleet.fleet.migrate import upgrade
from agrifleet.fleet.settings import FleetSettings
from agrifleet.fleet.telemetry.ingest import Ingestor
from agrifleet.fleet.telemetry.tables import Reading
from agrifleet.provisioning.mosquitto import FLEET_USER, MosquittoBroker, MosquittoConfig, free_port
from benchmarks.record import commit, machine

PREFIX = "agrifleet"
ROOT = Path(__file__).resolve().parents[1]


def _connect(url: str, client_id: str) -> mqtt.Client:
    parts = urlsplit(url)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
    client.username_pw_set(parts.username, parts.password)
    client.max_inflight_messages_set(100)
    client.connect(parts.hostname or "127.0.0.1", parts.port or 1883, keepalive=60)
    client.loop_start()
    return client


class BareSubscriber:
    """Counts the messages the broker delivers, doing nothing else with them."""

    def __init__(self, url: str, expected: int) -> None:
        self.expected = expected
        self.count = 0
        self.first: float | None = None
        self.last: float | None = None
        self.done = threading.Event()
        subscribed = threading.Event()
        self.client = _connect(url, f"bench-bare-{secrets.token_hex(3)}")
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.subscribe(f"{PREFIX}/+/messages", qos=1)
        subscribed.wait(10)

    def _on_message(self, _c: Any, _u: Any, _m: Any) -> None:
        now = time.time()
        self.first = self.first or now
        self.count += 1
        self.last = now
        if self.count >= self.expected:
            self.done.set()


class SimDevice:
    """One device: publishes ``batches`` batches of ``size`` readings, counts its acks."""

    def __init__(self, url: str, device_id: str) -> None:
        self.device_id = device_id
        self.acked = 0
        self.acks_done = threading.Event()
        self.expected_acks = 0
        self.sent_ts: dict[int, float] = {}  # first seq of a batch → its device timestamp
        subscribed = threading.Event()
        self.client = _connect(url, f"bench-{device_id}")
        self.client.on_message = self._on_ack
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.subscribe(f"{PREFIX}/{device_id}/ack", qos=1)
        subscribed.wait(10)

    def _on_ack(self, _c: Any, _u: Any, message: Any) -> None:
        Ack.model_validate_json(message.payload)
        self.acked += 1
        if self.acked >= self.expected_acks:
            self.acks_done.set()

    def run(self, batches: int, size: int, interval: float = 0.0) -> None:
        """Publish the batches back to back, or one every ``interval`` seconds."""
        self.expected_acks = batches
        next_at = time.monotonic()
        topic = messages_topic(PREFIX, self.device_id)
        seq = 0
        infos = []
        for _ in range(batches):
            if interval:
                next_at += interval
                time.sleep(max(0.0, next_at - time.monotonic()))
            moment = datetime.now(UTC)
            self.sent_ts[seq] = moment.timestamp()
            now = moment.isoformat()
            items = [
                {"kind": "reading", "seq": seq + i, "ts": now, "uptime_s": 1.0,
                 "sensor": "soil", "quantity": "moisture", "value": 20.0 + i % 7, "unit": "%"}
                for i in range(size)
            ]  # fmt: skip
            seq += size
            payload = json.dumps({"v": 1, "device_id": self.device_id, "boot_id": "bench",
                                  "items": items})  # fmt: skip
            infos.append(self.client.publish(topic, payload, qos=1))
        for info in infos:
            info.wait_for_publish(120)


def _devices_process(
    urls: dict[str, str], batches: int, size: int, interval: float, out: Any, go: Any
) -> None:
    """Child process: the simulated devices publish, then wait for all their acks."""
    sims = {device: SimDevice(url, device) for device, url in urls.items()}
    out.put(("ready", None))
    go.wait()
    start = time.time()
    threads = [
        threading.Thread(target=s.run, args=(batches, size, interval)) for s in sims.values()
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    published = time.time()
    for s in sims.values():
        s.acks_done.wait(300)
    out.put(("devices", {
        "start": start,
        "published": published,
        "acked": sum(s.acked for s in sims.values()),
        "sent_ts": {d: s.sent_ts for d, s in sims.items()},
    }))  # fmt: skip
    for s in sims.values():
        s.client.disconnect()
        s.client.loop_stop()


def _bare_process(url: str, expected: int, out: Any) -> None:
    """Child process: a bare subscriber that only counts what the broker delivers."""
    bare = BareSubscriber(url, expected)
    out.put(("ready", None))
    bare.done.wait(600)
    out.put(("bare", {"count": bare.count, "last": bare.last}))
    bare.client.disconnect()
    bare.client.loop_stop()


def _expect(out: Any, kind: str, timeout: float = 600) -> Any:
    got, value = out.get(timeout=timeout)
    if got != kind:
        raise RuntimeError(f"expected {kind!r} from a child process, got {got!r}")
    return value


def run(
    devices: int, batches: int, size: int, database_url: str | None, rate: float | None = None
) -> dict[str, Any]:
    """One benchmark run; the fleet ingests in this process, devices and the bare subscriber
    in two others (as on a real deployment, they do not share the fleet's interpreter)."""
    machine_text = machine()
    work = Path(tempfile.mkdtemp(prefix="agrifleet-bench-"))
    names = [f"bench-{i:03d}" for i in range(devices)]
    users = {FLEET_USER: secrets.token_hex(12), **{n: secrets.token_hex(12) for n in names}}
    broker = MosquittoBroker(
        MosquittoConfig(directory=work / "mosquitto", port=free_port(), prefix=PREFIX, users=users)
    )
    broker.start()
    url = database_url or f"sqlite:///{work / 'fleet.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as session:
        for name in names:
            session.add(Device(id=name))
        session.commit()
    settings = FleetSettings(
        database_url=url, mqtt_url=broker.url_for(FLEET_USER), mqtt_client_id="bench-fleet"
    )
    metrics = Metrics()
    ingestor = Ingestor(settings, engine, metrics)
    total_messages = devices * batches
    total = total_messages * size
    # Latency: device ts → the moment the writer sends the ack, which is after the commit.
    acked_at: list[tuple[str, int, float, int]] = []  # device, first seq, time, readings
    send = ingestor.writer.send_ack

    def timed_send(device_id: str, ack: Ack) -> None:
        n = sum(b - a + 1 for a, b in ack.ranges)
        acked_at.append((device_id, ack.ranges[0][0], time.time(), n))
        send(device_id, ack)

    ingestor.writer.send_ack = timed_send
    ingestor.start()
    assert ingestor.wait_connected(10), "fleet could not subscribe"

    spawn = multiprocessing.get_context("spawn")
    out, go = spawn.Queue(), spawn.Event()
    interval = devices * size / rate if rate else 0.0
    bare = spawn.Process(
        target=_bare_process, args=(broker.url_for(FLEET_USER), total_messages, out)
    )
    bare.start()
    _expect(out, "ready")
    sims = spawn.Process(
        target=_devices_process,
        args=({n: broker.url_for(n) for n in names}, batches, size, interval, out, go),
    )
    sims.start()
    _expect(out, "ready")
    print(f"{devices} devices x {batches} batches x {size} readings = {total} readings",
          file=sys.stderr)  # fmt: skip
    go.set()
    deadline = time.monotonic() + 600
    while metrics.items_stored["reading"] < total and time.monotonic() < deadline:
        time.sleep(0.005)
    stored_end = time.time()
    results: dict[str, Any] = {}
    for _ in range(2):
        kind, value = out.get(timeout=600)
        results[kind] = value
    bare.join(30)
    sims.join(30)
    ingestor.stop()
    with Session(engine) as session:
        in_db = session.execute(select(func.count()).select_from(Reading)).scalar_one()
    engine.dispose()
    broker.stop()

    dev, raw = results["devices"], results["bare"]
    sent_ts = dev["sent_ts"]
    latencies = [(t - sent_ts[d][first], n) for d, first, t, n in acked_at if first in sent_ts[d]]
    p50, p99 = _percentiles(latencies)
    fleet_s = stored_end - dev["start"]
    bare_s = (raw["last"] or stored_end) - dev["start"]
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit(),
        "machine": machine_text,
        "database": "PostgreSQL"
        if url.startswith("postgresql")
        else "SQLite (WAL, synchronous=FULL)",
        "devices": devices,
        "batches": batches,
        "batch_size": size,
        "rate": rate,
        "readings": total,
        "stored": in_db,
        "lost": total - in_db,
        "acks": dev["acked"],
        "acks_expected": total_messages,
        "fleet_readings_per_s": total / fleet_s,
        "broker_readings_per_s": raw["count"] * size / bare_s,
        "publish_s": dev["published"] - dev["start"],
        "fleet_s": fleet_s,
        "bare_s": bare_s,
        "latency_p50_ms": p50 * 1000,
        "latency_p99_ms": p99 * 1000,
        "refused": dict(metrics.messages_refused),
        "transactions": metrics.transactions,
    }


def _percentiles(weighted: list[tuple[float, int]]) -> tuple[float, float]:
    """p50 and p99 of values that each stand for ``n`` readings."""
    values = sorted(weighted)
    total = sum(n for _, n in values)
    if not total:
        return (float("nan"), float("nan"))
    out, running, marks = [], 0, [0.5 * total, 0.99 * total]
    for value, n in values:
        running += n
        while marks and running >= marks[0]:
            out.append(value)
            marks.pop(0)
    return (out[0], out[1])


def as_markdown(r: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"Run {r['date']}, commit `{r['commit']}`, {r['machine']}; {r['database']}.",
            f"{r['devices']} devices × {r['batches']} batches × {r['batch_size']} readings "
            f"= {r['readings']:,} readings, QoS 1, every device a separate paho client, "
            + (f"offered at {r['rate']:,.0f} readings/s." if r["rate"] else "as fast as possible."),
            "",
            "| measure | value |",
            "| --- | --- |",
            f"| fleet: readings stored per second | **{r['fleet_readings_per_s']:,.0f}** |",
            f"| broker alone (bare subscriber, same messages, same run) | "
            f"{r['broker_readings_per_s']:,.0f} readings/s |",
            f"| latency device ts → stored, p50 | {r['latency_p50_ms']:,.0f} ms |",
            f"| latency device ts → stored, p99 | {r['latency_p99_ms']:,.0f} ms |",
            f"| readings stored / sent (lost) | {r['stored']:,} / {r['readings']:,} "
            f"({r['lost']}) |",
            f"| acks received by the devices | {r['acks']:,} / {r['acks_expected']:,} |",
            f"| writer transactions | {r['transactions']:,} |",
            "",
        ]
    )


def record(markdown: str, doc: Path, tag: str) -> None:
    """Replace the text between the ``benchmark:<tag>`` markers in ``doc``."""
    start, end = f"<!-- benchmark:{tag}:start -->", f"<!-- benchmark:{tag}:end -->"
    text = doc.read_text()
    if start not in text or end not in text:
        raise SystemExit(f"{doc} has no {start} … {end} markers")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    doc.write_text(f"{head}{start}\n{markdown}{end}{tail}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=20)
    parser.add_argument("--batches", type=int, default=100, help="batches per device")
    parser.add_argument("--batch-size", type=int, default=100, help="readings per batch")
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temp dir")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="start a private PostgreSQL (tests/services.py; fsync off) and use it",
    )
    parser.add_argument(
        "--rate", type=float, help="total readings/s to offer (default: as fast as possible)"
    )
    parser.add_argument("--record", type=Path, help="write the result into this markdown file")
    parser.add_argument(
        "--tag", default="max", help="which <!-- benchmark:TAG:start/end --> markers to fill"
    )
    args = parser.parse_args()
    if args.postgres:
        from tests.services import running_postgres

        with running_postgres() as server:
            result = run(args.devices, args.batches, args.batch_size, server.create_database(),
                         args.rate)  # fmt: skip
            result["database"] = "PostgreSQL (private test cluster, fsync off)"
    else:
        result = run(args.devices, args.batches, args.batch_size, args.database_url, args.rate)
    markdown = as_markdown(result)
    print(markdown)
    print(json.dumps(result, indent=1), file=sys.stderr)
    if args.record:
        record(markdown, args.record, args.tag)
    return 0 if result["lost"] == 0 and result["acks"] == result["acks_expected"] else 1


if __name__ == "__main__":
    sys.exit(main())
