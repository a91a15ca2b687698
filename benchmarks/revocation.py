"""Enrolment and revocation latency against a real Mosquitto with dynamic security.

Starts its own Mosquitto (dynamic security plugin, only the fleet's account) and the fleet
(uvicorn in a thread, SQLite in a temp dir). For each of N devices: register it, ask for a code,
enrol over HTTP with a fresh password (timed), connect as the device; then revoke each over
HTTP and time from sending the request to the device's client seeing its connection closed.

    .venv/bin/python -m benchmarks.revocation [--devices 50]
"""

from __future__ import annotations

import argparse
import hashlib
import secrets
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import uvicorn

from agrifleet.fleet.app import create_app
from agrifleet.fleet.people.auth import create_token
from agrifleet.fleet.settings import FleetSettings
from agrifleet.provisioning.dynsec import DynsecBroker, DynsecConfig
from agrifleet.provisioning.mosquitto import free_port
from benchmarks.record import commit, machine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        broker = DynsecBroker(DynsecConfig(Path(tmp) / "broker", free_port(),
                                           secrets.token_urlsafe(18), as_root=True,
                                           persistence=False))
        broker.start()
        try:
            run(args.devices, Path(tmp), broker)
        finally:
            broker.stop()


def run(count: int, tmp: Path, broker: DynsecBroker) -> None:
    settings = FleetSettings(database_url=f"sqlite:///{tmp / 'fleet.db'}",
                             mqtt_url=broker.fleet_url, data_dir=tmp / "data",
                             enrolment_attempts_per_minute=10_000)
    app = create_app(settings)
    config = uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_config=None,
                            access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{config.port}/api/v1"
    try:
        auth = {"Authorization": f"Bearer {create_token(app.state.engine, 'admin')}"}
        http = httpx.Client(timeout=30)
        enrol_s, revoke_s, clients = [], [], []
        for n in range(count):
            device = f"bench-{n:04d}"
            http.post(f"{base}/devices", headers=auth, json={"id": device}).raise_for_status()
            code = http.post(f"{base}/devices/{device}/enrolment-code", headers=auth).json()
            password = secrets.token_urlsafe(32)
            started = time.perf_counter()
            http.post(f"{base}/enrol", json={
                "code": code["code"], "mqtt_password": password,
                "device_secret_sha256": hashlib.sha256(password.encode()).hexdigest(),
            }).raise_for_status()
            enrol_s.append(time.perf_counter() - started)
            gone = threading.Event()
            client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=device)
            client.username_pw_set(device, password)
            client.on_disconnect = lambda *_, e=gone: e.set()
            client.connect("127.0.0.1", broker.port)
            client.loop_start()
            clients.append((device, client, gone))
        time.sleep(1)
        for device, client, gone in clients:
            started = time.perf_counter()
            http.post(f"{base}/devices/{device}/revoke", headers=auth).raise_for_status()
            if not gone.wait(10):
                raise SystemExit(f"{device} was not disconnected within 10 s")
            revoke_s.append(time.perf_counter() - started)
            client.loop_stop()
        print(f"# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {commit()}\n# {machine()}")
        for name, values in (("enrol (HTTP, broker account created)", enrol_s),
                             ("revoke -> device disconnected", revoke_s)):
            ms = sorted(v * 1000 for v in values)
            print(f"{name}: n={len(ms)} median {statistics.median(ms):.1f} ms, "
                  f"p95 {ms[int(0.95 * (len(ms) - 1))]:.1f} ms, max {ms[-1]:.1f} ms")
    finally:
        server.should_exit = True
        thread.join(30)


if __name__ == "__main__":
    main()
