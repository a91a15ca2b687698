"""Ingest workers share the devices' traffic through one MQTT shared subscription on a real
Mosquitto and PostgreSQL: a worker killed mid-stream loses nothing (its session keeps what it
held until it restarts under the same id), every item is stored exactly once and acknowledged,
and the gap report is empty. Each worker answers /health and, with a token, /metrics."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy

from agrifleet.contract import Ack
from agrifleet.fleet.settings import FleetSettings
from tests.fleet.conftest import FleetUnderTest, running_fleet
from tests.fleet.device import Device, batch, reading, wait_until
from tests.services import Broker, Postgres, free_port

pytestmark = pytest.mark.slow  # ingest workers as processes, one killed

ROOT = Path(__file__).resolve().parents[3]
DEVICES = 6
BATCHES = 120  # per device
PER_BATCH = 7


class WorkerProcess:
    """`agrifleet fleet ingest --worker ID` as its own process."""

    def __init__(self, worker: str, database_url: str, broker: Broker) -> None:
        self.worker = worker
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("AGRIFLEET_")}
        env.update(
            PYTHONPATH=str(ROOT),
            AGRIFLEET_DATABASE_URL=database_url,
            AGRIFLEET_MQTT_URL=broker.fleet_url,
            AGRIFLEET_MQTT_CLIENT_ID="fleet-test",
            AGRIFLEET_WRITER_MAX_MESSAGES="16",  # many small transactions interleave
        )
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "agrifleet", "fleet", "ingest", "--worker", self.worker,
             "--metrics-port", str(self.port)],
            env=self.env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        wait_until(self.healthy, timeout=90, what=f"worker {self.worker} healthy")

    def get(self, path: str, token: str | None = None) -> tuple[int, str]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
        except OSError:
            return 0, ""

    def healthy(self) -> bool:
        assert self.process is not None and self.process.poll() is None, self.stderr()
        return self.get("/health")[0] == 200

    def metric(self, token: str, line_start: str) -> float:
        status, body = self.get("/metrics", token)
        assert status == 200, body
        for line in body.splitlines():
            if line.startswith(line_start + " "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def stderr(self) -> str:
        if self.process is None or self.process.poll() is None or self.process.stderr is None:
            return ""
        return self.process.stderr.read().decode(errors="replace")[-3000:]


@pytest.fixture
def pg_api(postgres: Postgres) -> Iterator[FleetUnderTest]:
    """The API alone (no ingestion) on a fresh PostgreSQL database."""
    with running_fleet(FleetSettings(database_url=postgres.create_database())) as running:
        yield running


@pytest.fixture
def workers(pg_api: FleetUnderTest, broker: Broker) -> Iterator[list[WorkerProcess]]:
    url = str(pg_api.app.state.engine.url.render_as_string(hide_password=False))
    started = [WorkerProcess(str(n), url, broker) for n in (1, 2)]
    try:
        for w in started:
            w.start()
        yield started
    finally:
        for w in started:
            w.stop()


def token(header: dict[str, str]) -> str:
    return header["Authorization"].split(" ", 1)[1]


class AckLog:
    """The seqs a device's acks named stored, accumulated."""

    def __init__(self, device: Device) -> None:
        self.device = device
        self._seqs: set[int] = set()

    def seqs(self) -> set[int]:
        while not self.device.acks.empty():
            self._seqs |= acked([self.device.acks.get()])
        return self._seqs


def acked(acks: list[Ack]) -> set[int]:
    seqs: set[int] = set()
    for ack in acks:
        for first, last in ack.ranges:
            seqs.update(range(first, last + 1))
    return seqs


@pytest.mark.postgres
def test_a_killed_worker_loses_nothing_and_stores_nothing_twice(
    pg_api: FleetUnderTest, broker: Broker, workers: list[WorkerProcess]
) -> None:
    first, second = workers
    devices = []
    for n in range(DEVICES):
        pg_api.register(f"node-{n}")
        devices.append(Device(broker.add_device(f"node-{n}"), f"node-{n}"))
    killed_at = threading.Event()

    def stream(device: Device) -> None:
        for b in range(BATCHES):
            items = [reading(b * PER_BATCH + i, value=float(b), quantity=f"q{i}")
                     for i in range(PER_BATCH)]  # fmt: skip
            device.publish(batch(device.device_id, "boot-1", items))
            time.sleep(0.01 if b < BATCHES // 3 or killed_at.is_set() else 0.02)

    threads = [threading.Thread(target=stream, args=(d,)) for d in devices]
    try:
        for t in threads:
            t.start()
        viewer = token(pg_api.viewer)
        wait_until(lambda: first.metric(viewer, "agrifleet_acks_published_total") > 20,
                   what="worker 1 storing")  # fmt: skip
        first.kill()  # mid-stream: whatever it holds unacknowledged stays in its session
        killed_at.set()
        time.sleep(1.0)  # the devices go on; the broker queues worker 1's share for it
        first.start()  # as systemd's Restart=always would, under the same client id
        for t in threads:
            t.join(60)
        expected = set(range(BATCHES * PER_BATCH))

        logs = [AckLog(d) for d in devices]
        wait_until(lambda: all(log.seqs() >= expected for log in logs), timeout=60,
                   what="every item acknowledged")
        assert second.metric(viewer, "agrifleet_acks_published_total") > 0, "no sharing"
        # Worker 1 came back to what the broker kept in its session while it was dead.
        assert first.metric(viewer, 'agrifleet_messages_ingested_total{topic="messages"}') > 0

        with pg_api.app.state.engine.connect() as conn:
            rows = conn.execute(sqlalchemy.text(
                "SELECT device_id, count(*), count(DISTINCT seq), min(seq), max(seq) "
                "FROM reading GROUP BY device_id ORDER BY device_id"
            )).all()  # fmt: skip
        assert [tuple(r) for r in rows] == [
            (d.device_id, len(expected), len(expected), 0, len(expected) - 1) for d in devices
        ]
        for d in devices:
            (boot,) = pg_api.get(f"/api/v1/devices/{d.device_id}/gaps")
            assert (boot["received"], boot["missing"], boot["missing_ranges"]) == (
                len(expected), 0, []
            ), boot
    finally:
        killed_at.set()
        for t in threads:
            t.join(60)
        for d in devices:
            d.close()


@pytest.mark.postgres
def test_a_worker_reports_health_openly_and_metrics_only_with_a_token(
    pg_api: FleetUnderTest, workers: list[WorkerProcess]
) -> None:
    worker = workers[0]
    status, body = worker.get("/health")
    health = json.loads(body)
    assert status == 200
    assert health["worker"] == "1" and health["mqtt_connected"] and health["writer_alive"]
    assert health["client_id"] == "fleet-test-ingest-1"
    assert health["share_group"] == "agrifleet-ingest"
    assert worker.get("/metrics")[0] == 401
    assert worker.get("/metrics", "agf_not-a-token")[0] == 401
    status, text = worker.get("/metrics", token(pg_api.viewer))
    assert status == 200
    assert 'agrifleet_ingest_worker_info{worker="1",share_group="agrifleet-ingest"} 1' in text
    assert "agrifleet_ingest_mqtt_connected 1" in text
    assert "agrifleet_ingest_queue_depth 0" in text
    assert worker.get("/nothing")[0] == 404


def test_a_bad_worker_id_or_no_broker_is_one_line_and_exit_2(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGRIFLEET_")}
    env.update(PYTHONPATH=str(ROOT), AGRIFLEET_DATABASE_URL=f"sqlite:///{tmp_path / 'f.db'}")
    bad = subprocess.run([sys.executable, "-m", "agrifleet", "fleet", "ingest", "--worker",
                          "a/b"], env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert bad.returncode == 2 and "invalid --worker 'a/b'" in bad.stderr
    none = subprocess.run([sys.executable, "-m", "agrifleet", "fleet", "ingest"], env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert none.returncode == 2 and "AGRIFLEET_MQTT_URL is not set" in none.stderr


def test_the_api_only_process_ingests_nothing_but_runs_the_rollout_engine(
    broker: Broker, tmp_path: Path
) -> None:
    from agrifleet.cli import build_parser

    assert build_parser().parse_args(["fleet", "serve", "--api-only"]).api_only
    settings = FleetSettings(database_url=f"sqlite:///{tmp_path / 'f.db'}",
                             mqtt_url=broker.fleet_url, mqtt_client_id="fleet-api-test")
    from fastapi.testclient import TestClient

    from agrifleet.fleet.app import create_app

    app = create_app(settings, ingest=False)
    with TestClient(app) as client:
        assert app.state.ingestor is None
        assert app.state.rollouts is not None and app.state.publisher is not None
        wait_until(app.state.publisher.client.is_connected, what="publisher connected")
        assert client.get("/healthz").status_code == 200
    assert app.state.publisher is None and app.state.rollouts is None


def test_a_retired_worker_s_session_no_longer_takes_a_share(
    broker: Broker, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'fleet.db'}"
    with running_fleet(FleetSettings(database_url=url)) as api:
        api.register("node-r")
        live, gone = WorkerProcess("1", url, broker), WorkerProcess("2", url, broker)
        device = Device(broker.add_device("node-r"), "node-r")
        try:
            live.start()
            gone.start()
            gone.kill()  # its persistent session stays in the share group
            for seq in range(10):
                device.publish(batch("node-r", "boot-1", [reading(seq)]))
            time.sleep(2)
            log = AckLog(device)
            held = set(range(10)) - log.seqs()
            assert held, "the dead worker's session took no share"
            done = subprocess.run(
                [sys.executable, "-m", "agrifleet", "fleet", "ingest", "--worker", "2",
                 "--retire"], env=gone.env, capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
            assert "fleet-test-ingest-2" in done.stdout
            for seq in range(10, 20):
                device.publish(batch("node-r", "boot-1", [reading(seq)]))
            wait_until(lambda: log.seqs() >= set(range(10, 20)),
                       what="every new batch acknowledged by the live worker")  # fmt: skip
        finally:
            device.close()
            live.stop()

