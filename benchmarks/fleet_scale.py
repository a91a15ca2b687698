"""Fleet at scale: `agrifleet sim fleet` with thousands of virtual nodes → a real Mosquitto →
1, 2 or 4 ingest workers (`agrifleet fleet ingest`) on PostgreSQL, or one on SQLite.

Every figure comes from the simulator's summary (items acknowledged after their commit):

- bare broker: the nodes count the broker's PUBACK as the ack (one subscriber of its own on the
  device filter takes the messages): the most this broker takes on this machine, in this run;
- live: 7 readings per batch, each node polling again as soon as its ack came (closed loop):
  stored batches per second, for each worker count;
- offered load: live batches at a fixed rate (open loop): publish → ack p50/p99, while a client
  reads the API (`serve --api-only`): its p95;
- backlog: nodes drain a backlog in batches of 500 readings: readings stored per second.

    nice -n 10 .venv/bin/python -m benchmarks.fleet_scale [--devices 5000] [--duration 15]
        [--workers 1,2,4] [--offered 1000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt

from agrifleet.demo.sim.runner import SimOptions, percentile, run_fleet
from agrifleet.provisioning.mosquitto import FLEET_USER, MosquittoBroker, MosquittoConfig, free_port
from benchmarks.record import commit, machine

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "agrifleet"


def prepare_database(url: str, device_ids: list[str]) -> str:
    """Migrate, register the devices in bulk, return a viewer token."""
    from sqlmodel import Session

    from agrifleet.fleet.db import make_engine
    from agrifleet.fleet.devices.tables import Device
    from agrifleet.fleet.migrate import upgrade
    from agrifleet.fleet.people.auth import create_token

    engine = make_engine(url)
    try:
        upgrade(engine)
        with Session(engine) as session:
            session.add_all([Device(id=d, name=d) for d in device_ids])
            session.commit()
        return create_token(engine, "viewer", "benchmark")
    finally:
        engine.dispose()


def _env(database_url: str, mqtt_url: str, tag: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGRIFLEET_")}
    env.update(PYTHONPATH=str(ROOT), AGRIFLEET_DATABASE_URL=database_url,
               AGRIFLEET_MQTT_URL=mqtt_url, AGRIFLEET_MQTT_CLIENT_ID=f"bench-{tag}",
               AGRIFLEET_MQTT_SHARE_GROUP=f"bench-{tag}", AGRIFLEET_AUTO_MIGRATE="false",
               AGRIFLEET_DATA_DIR=tempfile.mkdtemp(prefix="agrifleet-bench-"))  # fmt: skip
    return env


@contextmanager
def workers(count: int, database_url: str, mqtt_url: str, tag: str) -> Iterator[None]:
    """``count`` ingest workers, each in its own share group per scenario (no stale sessions)."""
    env = _env(database_url, mqtt_url, tag)
    procs = [subprocess.Popen([sys.executable, "-m", "agrifleet", "fleet", "ingest", "--worker",
                               str(n), "--metrics-port", "0"], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
             for n in range(1, count + 1)]  # fmt: skip
    try:
        for p in procs:
            assert p.stdout is not None
            line = p.stdout.readline()
            if "ready" not in line:
                raise RuntimeError(f"an ingest worker did not start: {line!r}")
            port = int(line.rsplit(" ", 1)[1])
            deadline = time.monotonic() + 120
            while True:  # /health is 200 once connected and subscribed: messages reach it
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health",
                                                timeout=5):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("an ingest worker did not subscribe") from None
                    time.sleep(0.2)
        yield
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


@contextmanager
def api_server(database_url: str, mqtt_url: str) -> Iterator[str]:
    """``agrifleet fleet serve --api-only`` on a free port; its base URL."""
    port = free_port()
    env = _env(database_url, mqtt_url, "api")
    proc = subprocess.Popen([sys.executable, "-m", "agrifleet", "fleet", "serve", "--api-only",
                             "--port", str(port)], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300  # a loaded machine starts it slowly
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2):  # noqa: S310
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the API did not start") from None
                time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        proc.wait(30)


class ApiLoad(threading.Thread):
    """A dashboard's reads, back to back: the device list, then one device's readings."""

    def __init__(self, base: str, token: str, device_ids: list[str]) -> None:
        super().__init__(daemon=True)
        self.base, self.token, self.ids = base, token, device_ids
        self.latencies: list[float] = []
        self.errors = 0
        self.stop = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            path = ("/api/v1/devices?limit=100" if n % 2 else
                    f"/api/v1/devices/{self.ids[n % len(self.ids)]}/readings?limit=100")
            request = urllib.request.Request(self.base + path,  # noqa: S310 - http only
                                             headers={"Authorization": f"Bearer {self.token}"})
            start = time.perf_counter()
            try:
                with urllib.request.urlopen(request, timeout=30) as r:  # noqa: S310
                    r.read()
                self.latencies.append(time.perf_counter() - start)
            except OSError:
                self.errors += 1
            time.sleep(0.05)


class BareSubscriber:
    """Takes the device messages (QoS 1, on a share group of its own) and does nothing."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.count = 0
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=f"bare-{secrets.token_hex(3)}")
        self.client.username_pw_set(parts.username, parts.password)
        self.client.on_message = self._take
        self.client.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
        self.client.subscribe(f"$share/bare/{PREFIX}/+/messages", qos=1)
        self.client.loop_start()

    def _take(self, *_: Any) -> None:
        self.count += 1

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def sim(base: SimOptions, **changes: Any) -> dict[str, Any]:
    summary = run_fleet(replace(base, **changes))
    if summary["errors"]:
        print(f"  simulator errors: {summary['errors'][:3]}", file=sys.stderr)
    return summary


def live_row(name: str, summary: dict[str, Any], bare: float) -> dict[str, Any]:
    batches = summary["acked_items_per_s"] / 7
    return {"scenario": name, "batches_per_s": round(batches, 1),
            "readings_per_s": round(summary["acked_items_per_s"]),
            "ratio_to_bare": round(batches / bare, 2) if bare else None,
            "p50_s": summary["ack_latency_s"]["p50"], "p99_s": summary["ack_latency_s"]["p99"],
            "unacked": summary["acknowledged"]["unacked"]}  # fmt: skip


def backlog_row(name: str, nodes: int, drained: dict[str, Any]) -> dict[str, Any]:
    return {"scenario": name, "nodes": nodes, "readings": drained["acknowledged"]["items"],
            "readings_per_s": drained["acked_items_per_s_to_last_ack"],
            "unacked": drained["acknowledged"]["unacked"]}  # fmt: skip


def run(args: argparse.Namespace) -> dict[str, Any]:
    from tests.services import running_postgres

    results: dict[str, Any] = {"commit": commit(), "machine": machine(),
                               "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                               "devices": args.devices, "duration_s": args.duration, "rows": []}
    tmp = Path(tempfile.mkdtemp(prefix="agrifleet-scale-"))
    config = MosquittoConfig(directory=tmp / "mqtt", port=free_port(), prefix=PREFIX,
                             users={FLEET_USER: secrets.token_hex(12)})  # fmt: skip
    broker = MosquittoBroker(config)
    broker.start()
    url = broker.url_for(FLEET_USER)
    base = SimOptions(mqtt_url=url, devices=args.devices, rate=0, duration=args.duration,
                      processes=args.sim_processes, window=1, detection_every=0,
                      offline_fraction=0.0, drain_s=20, status=False)  # fmt: skip
    ids = base.device_ids()
    rows = results["rows"]
    wanted = args.scenarios

    def add(row: dict[str, Any]) -> None:
        rows.append(row)
        print(json.dumps(row), flush=True)

    def drain(**changes: Any) -> dict[str, Any]:
        return sim(base, devices=args.backlog_devices, live=False, backlog=args.backlog,
                   batch_max=500, window=4, drain_s=120, **changes)  # fmt: skip

    try:
        bare_sub = BareSubscriber(url)
        bare = sim(base, ack_on_puback=True)
        bare_sub.close()
        bare_batches = bare["acked_items_per_s"] / 7
        add(live_row("bare broker (PUBACK as ack)", bare, bare_batches))
        with running_postgres() as pg:
            pg_url = pg.create_database()
            token = prepare_database(pg_url, ids)
            best = (0.0, max(args.workers))
            for k in args.workers if "live" in wanted else []:
                with workers(k, pg_url, url, f"pg{k}"):
                    add(live_row(f"live, PostgreSQL, {k} worker(s)", sim(base), bare_batches))
                best = max(best, (rows[-1]["batches_per_s"], k))
            k = best[1]
            if "offered" in wanted:
                with workers(k, pg_url, url, f"pgo{k}"), api_server(pg_url, url) as api:
                    load = ApiLoad(api, token, ids)
                    load.start()
                    offered = sim(base, rate=args.offered, window=1000)
                    load.stop.set()
                    load.join(30)
                row = live_row(f"offered {args.offered:g} batches/s, PostgreSQL, {k} worker(s)",
                               offered, bare_batches)
                row.update(api_p95_s=percentile(load.latencies, 0.95),
                           api_requests=len(load.latencies), api_errors=load.errors)
                add(row)
            if "backlog" in wanted:
                with workers(k, pg_url, url, f"pgb{k}"):
                    add(backlog_row(f"backlog drain, PostgreSQL, {k} worker(s)",
                                    args.backlog_devices, drain()))  # fmt: skip
        if "sqlite" in wanted:
            sqlite_url = f"sqlite:///{tmp / 'fleet.db'}"
            prepare_database(sqlite_url, ids)
            with workers(1, sqlite_url, url, "sqlite"):
                add(live_row("live, SQLite, 1 worker", sim(base), bare_batches))
                add(backlog_row("backlog drain, SQLite, 1 worker", args.backlog_devices,
                                drain()))  # fmt: skip
    finally:
        broker.stop()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=5000, help="virtual nodes (5000)")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per scenario")
    parser.add_argument("--workers", default="1,2,4", help="worker counts on PostgreSQL")
    parser.add_argument("--offered", type=float, default=1000.0,
                        help="live batches/s of the offered-load scenario (1000)")
    parser.add_argument("--backlog-devices", type=int, default=200)
    parser.add_argument("--backlog", type=int, default=2500, help="readings per backlog node")
    parser.add_argument("--sim-processes", type=int, default=2)
    parser.add_argument("--scenarios", default="live,offered,backlog,sqlite",
                        help="which scenarios beside the bare broker (live,offered,backlog,sqlite)")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up the services first
    args.workers = [int(w) for w in args.workers.split(",") if w.strip()]
    args.scenarios = {s.strip() for s in args.scenarios.split(",") if s.strip()}
    results = run(args)
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
