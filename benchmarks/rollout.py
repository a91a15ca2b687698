"""Rollout at scale: one model rolled out in phases to simulated nodes over flaky links.

Starts its own Mosquitto (one user per node) and the fleet (uvicorn in a thread, SQLite in a
temp dir), publishes a signed 1.2.0 package (the base model, 1.1.0, re-versioned), registers the
nodes, then runs light nodes in a few processes: each a paho client with its own credentials
that announces 1.1.0 in its status, takes its retained offer, downloads the package over HTTP
resuming with ``Range`` after its link drops at a random byte (and sometimes drops its MQTT
connection and takes the retained offer again), checks the sha256, and reports every update
state as Update items. Reports the time from ``POST /rollouts`` to ``completed`` and the bytes
the fleet served per node (its own ``/metrics`` counters) against the package size (floor: at
most 1.05x).

    .venv/bin/python -m benchmarks.rollout [--nodes 200] [--processes 4] [--drop 0.3]
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import multiprocessing
import queue
import random
import secrets
import socket
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt

from agrifleet.contract import ModelOffer, messages_topic, offer_topic, status_topic
from agrifleet.provisioning.mosquitto import FLEET_USER, MosquittoBroker, MosquittoConfig, free_port
from benchmarks.record import commit, machine

PREFIX = "agrifleet"
#: The client's receive buffer: a small window, as on a slow field link, so that a dropped
#: connection wastes little of what the fleet already sent.
RCVBUF = 32 * 1024
READ = 16 * 1024


class _SmallWindow(http.client.HTTPConnection):
    def connect(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        sock.settimeout(self.timeout)
        sock.connect((self.host, self.port))
        self.sock = sock


def download(offer: ModelOffer, rng: random.Random, drop: float) -> tuple[bytes, int]:
    """The archive, resuming with Range after each drop; (bytes, drops)."""
    url = urlsplit(offer.url)
    got, drops = bytearray(), 0
    while len(got) < offer.size:
        conn = _SmallWindow(url.hostname or "127.0.0.1", url.port or 80, timeout=60)
        headers = {"Authorization": f"Bearer {offer.token}"}
        if got:
            headers["Range"] = f"bytes={len(got)}-"
        conn.request("GET", url.path, headers=headers)
        response = conn.getresponse()
        if response.status not in (200, 206):
            raise RuntimeError(f"download answered {response.status}: {response.read()[:200]!r}")
        left = offer.size - len(got)
        cut = rng.randint(1, left) if rng.random() < drop else None
        read = 0
        while True:
            chunk = response.read(READ if cut is None else min(READ, cut - read))
            if not chunk:
                break
            got += chunk
            read += len(chunk)
            if cut is not None and read >= cut:
                drops += 1
                break
        conn.sock.shutdown(socket.SHUT_RDWR) if conn.sock and cut is not None else None
        conn.close()
    return bytes(got), drops


class LightNode:
    """One simulated node: status, offer, download, Update items."""

    def __init__(self, device_id: str, password: str, port: int, rng: random.Random) -> None:
        self.device_id, self.password, self.port, self.rng = device_id, password, port, rng
        self.offers: queue.Queue[bytes] = queue.Queue()
        self.seq = 0
        self.client = self._connect()

    def _connect(self) -> mqtt.Client:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-{self.device_id}")
        client.username_pw_set(self.device_id, self.password)
        client.on_message = lambda _c, _u, m: self.offers.put(bytes(m.payload))
        client.on_connect = lambda c, *_: c.subscribe(offer_topic(PREFIX, self.device_id), 1)
        client.connect("127.0.0.1", self.port, keepalive=30)
        client.loop_start()
        return client

    def _items(self, rollout_id: int, *states: dict[str, Any]) -> None:
        items = []
        for fields in states:
            items.append({"kind": "update", "seq": self.seq,
                          "ts": datetime.now(UTC).isoformat(), "uptime_s": float(self.seq),
                          "rollout_id": rollout_id, "model": "leaf-disease",
                          "version": "1.2.0", **fields})
            self.seq += 1
        batch = {"v": 1, "device_id": self.device_id, "boot_id": "bench", "items": items}
        self.client.publish(messages_topic(PREFIX, self.device_id), json.dumps(batch),
                            qos=1).wait_for_publish(30)

    def run(self, old: dict[str, str], new: dict[str, str], drop: float) -> dict[str, int]:
        status = {"v": 1, "device_id": self.device_id, "boot_id": "bench", "state": "online",
                  "ts": datetime.now(UTC).isoformat(),
                  "health": {"outbox_depth": 0, "model": old}}
        self.client.publish(status_topic(PREFIX, self.device_id), json.dumps(status), qos=1,
                            retain=True).wait_for_publish(30)
        mqtt_drops = 0
        while True:
            payload = self.offers.get(timeout=600)
            if not payload:
                continue  # withdrawn (none here): wait for the next
            offer = ModelOffer.model_validate_json(payload)
            if mqtt_drops == 0 and self.rng.random() < drop:  # the link goes, the offer stays
                self.client.disconnect()
                self.client.loop_stop()
                mqtt_drops += 1
                self.client = self._connect()
                continue
            break
        self._items(offer.rollout_id, {"state": "downloading", "bytes_done": 0,
                                       "bytes_total": offer.size})
        data, drops = download(offer, self.rng, drop)
        if hashlib.sha256(data).hexdigest() != offer.sha256:
            self._items(offer.rollout_id, {"state": "failed", "reason": "sha256 mismatch"})
            return {"drops": drops, "mqtt_drops": mqtt_drops, "failed": 1}
        gate = {"images": offer.shadow_images, "agreement": 0.98, "mean_confidence": 0.9,
                "uncertain_rate": 0.04, "latency_ms": 25.0}
        self._items(offer.rollout_id,
                    {"state": "downloading", "bytes_done": offer.size, "bytes_total": offer.size},
                    {"state": "verifying"}, {"state": "selftest"},
                    {"state": "shadow", "gate": gate},
                    {"state": "active", "gate": gate, "active": new})
        self.client.disconnect()
        self.client.loop_stop()
        return {"drops": drops, "mqtt_drops": mqtt_drops, "failed": 0}


def _nodes_process(nodes: list[tuple[str, str]], port: int, old: dict[str, str],
                   new: dict[str, str], drop: float, seed: int,
                   results: multiprocessing.Queue[dict[str, int]]) -> None:
    out: list[dict[str, int]] = []

    def one(device_id: str, password: str, index: int) -> None:
        node = LightNode(device_id, password, port, random.Random(seed * 100_000 + index))
        out.append(node.run(old, new, drop))

    threads = [threading.Thread(target=one, args=(d, p, i)) for i, (d, p) in enumerate(nodes)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = {"drops": 0, "mqtt_drops": 0, "failed": 0, "nodes": len(out)}
    for r in out:
        for k, v in r.items():
            total[k] += v
    results.put(total)


def _package(tmp: Path, key: Path) -> bytes:
    """The base model (tests/base_model.py) as a signed 1.2.0, packed."""
    import shutil

    from agrifleet.package import pack, sign_package
    from tests.base_model import BASE_MODEL_DIR

    folder = tmp / "leaf-disease-1.2.0"
    shutil.copytree(BASE_MODEL_DIR, folder, ignore=shutil.ignore_patterns(
        "model_float.tflite", "confusion_*.png", "manifest.sig"))
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest.update(version="1.2.0", float_reference=None, files=[], signing=None)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    sign_package(folder, key)
    pack(folder, tmp / "package.tar.gz")
    return (tmp / "package.tar.gz").read_bytes()


def _api(base: str, token: str, method: str, path: str, body: bytes | None = None,
         content_type: str = "application/json") -> Any:
    req = urllib.request.Request(base + path, data=body, method=method,  # noqa: S310
                                 headers={"Authorization": f"Bearer {token}",
                                          "Content-Type": content_type})
    with urllib.request.urlopen(req, timeout=120) as response:  # noqa: S310 - local fleet
        text = response.read()
    return json.loads(text) if content_type == "application/json" or text[:1] in b"[{" else text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--drop", type=float, default=0.3,
                        help="chance that a download attempt (and once, the MQTT link) drops")
    parser.add_argument("--phases", default="5,25,100")
    parser.add_argument("--sndbuf", type=int, default=0,
                        help="SO_SNDBUF of the fleet's sockets (0: the system's default)")
    args = parser.parse_args(argv)

    import uvicorn

    from agrifleet.fleet.app import create_app
    from agrifleet.fleet.people.auth import create_token
    from agrifleet.fleet.settings import FleetSettings
    from agrifleet.manifest import read_manifest
    from agrifleet.package import generate_keypair
    from tests.base_model import BASE_MODEL_DIR, BASE_VERSION

    sha = read_manifest(BASE_MODEL_DIR).sha256
    old = {"name": "leaf-disease", "version": BASE_VERSION, "sha256": sha}
    new = {"name": "leaf-disease", "version": "1.2.0", "sha256": sha}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        key, pub = generate_keypair(tmp / "keys")
        package = _package(tmp, key)
        nodes = [(f"node-{i:03d}", secrets.token_hex(8)) for i in range(args.nodes)]
        users = {FLEET_USER: secrets.token_hex(12), **dict(nodes)}
        broker = MosquittoBroker(MosquittoConfig(directory=tmp / "mqtt", port=free_port(),
                                                 users=users))
        broker.start()
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        settings = FleetSettings(
            database_url=f"sqlite:///{tmp / 'fleet.db'}", mqtt_url=broker.url_for(FLEET_USER),
            data_dir=tmp / "data", model_keys=(pub,), public_url=base, rollout_tick_s=0.5)
        app = create_app(settings)
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                               log_level="warning", backlog=1024))
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if args.sndbuf:  # accepted connections inherit it: less unsent data lost at a drop
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, args.sndbuf)
        listener.bind(("127.0.0.1", port))
        serving = threading.Thread(target=server.run, kwargs={"sockets": [listener]},
                                   daemon=True)
        serving.start()
        while not server.started:
            time.sleep(0.05)
        try:
            token = create_token(app.state.engine, "technician", "bench")
            _api(base, token, "POST", "/api/v1/models", package, "application/gzip")
            admin = create_token(app.state.engine, "admin", "bench")
            for device_id, _ in nodes:
                _api(base, admin, "POST", "/api/v1/devices",
                     json.dumps({"id": device_id}).encode())
            results: multiprocessing.Queue[dict[str, int]] = multiprocessing.Queue()
            share = [nodes[i::args.processes] for i in range(args.processes)]
            workers = [multiprocessing.Process(target=_nodes_process, args=(
                part, broker.port, old, new, args.drop, i, results)) for i, part in
                enumerate(share)]
            for w in workers:
                w.start()
            time.sleep(2)  # the nodes' statuses arrive (they name the base version)
            body = {"model": "leaf-disease", "version": "1.2.0", "targets": {"all": True},
                    "phases": [int(p) for p in args.phases.split(",")], "min_devices": 5,
                    "max_failure_pct": 5}
            started = time.monotonic()
            rid = _api(base, token, "POST", "/api/v1/rollouts", json.dumps(body).encode())["id"]
            phase_times: dict[int, float] = {}
            while True:
                status = _api(base, token, "GET", f"/api/v1/rollouts/{rid}")
                phase_times.setdefault(status["phase"], time.monotonic() - started)
                if status["state"] in ("completed", "halted", "aborted", "paused"):
                    break
                if time.monotonic() - started > 600:
                    raise SystemExit("the rollout did not finish within 10 minutes")
                time.sleep(0.5)
            elapsed = time.monotonic() - started
            totals = {"drops": 0, "mqtt_drops": 0, "failed": 0, "nodes": 0}
            for _ in workers:
                for k, v in results.get(timeout=120).items():
                    totals[k] += v
            for w in workers:
                w.join(30)
            metrics = _api(base, token, "GET", "/metrics", content_type="text/plain").decode()
        finally:
            server.should_exit = True
            serving.join(20)
            broker.stop()
    served = [float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
              if line.startswith('agrifleet_package_device_bytes_served_total{device="node-')]
    size = len(package)
    figures = {
        "nodes": args.nodes, "processes": args.processes, "drop": args.drop,
        "phases": args.phases, "state": status["state"], "reason": status["reason"],
        "seconds_to_complete": round(elapsed, 1),
        "phase_started_s": {str(k + 1): round(v, 1) for k, v in sorted(phase_times.items())},
        "active": status["counts"].get("active", 0), "package_bytes": size,
        "http_drops": totals["drops"], "mqtt_drops": totals["mqtt_drops"],
        "served_per_node_mean": round(sum(served) / max(len(served), 1) / size, 4),
        "served_per_node_p95": round(sorted(served)[int(0.95 * (len(served) - 1))] / size, 4)
        if served else 0,
        "served_per_node_max": round(max(served, default=0) / size, 4),
        "nodes_within_1_05": sum(1 for b in served if b <= 1.05 * size),
        "wasted_bytes_per_http_drop": round((sum(served) - len(served) * size)
                                            / max(totals["drops"], 1)),
        "nodes_counted": len(served),
        "commit": commit(), "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
    }
    print(json.dumps(figures, indent=2))
    ok = status["state"] == "completed" and figures["served_per_node_mean"] <= 1.05
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
