"""The fleet releases a message to the broker (PUBACK) only once it is committed: a fleet killed
between delivery and commit gets the same messages again from the broker when it restarts, and
stores each once. And the fleet announces itself: online with a new instance at every start,
offline by last will when killed and on a clean stop."""

from __future__ import annotations

import os
import queue
import signal
import sqlite3
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import sqlalchemy
from sqlmodel import Session

from agrifleet.contract import FleetStatus, fleet_status_topic
from agrifleet.fleet.db import make_engine
from agrifleet.fleet.devices.tables import Device as DeviceRow
from agrifleet.fleet.people.auth import create_token
from agrifleet.fleet.settings import FleetSettings
from tests.fleet.conftest import FleetUnderTest, running_fleet
from tests.fleet.device import Device, batch, reading, wait_until
from tests.services import Broker, free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[3]


class FleetWatcher:
    """Follows the retained fleet status as a node would (here with the fleet's own user)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.seen: queue.Queue[FleetStatus] = queue.Queue()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.client.username_pw_set(parts.username, parts.password)
        self.client.on_message = self._take
        self.client.on_connect = lambda c, *_: c.subscribe(fleet_status_topic("agrifleet"), 1)
        self.client.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
        self.client.loop_start()

    def _take(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        if message.payload:
            self.seen.put(FleetStatus.model_validate_json(message.payload))

    def next(self, state: str) -> FleetStatus:
        """The next status seen, which must be in ``state``."""
        status = self.seen.get(timeout=20)
        assert status.state == state, status
        return status

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@contextmanager
def watching(broker: Broker) -> Iterator[FleetWatcher]:
    watcher = FleetWatcher(broker.fleet_url)
    try:
        yield watcher
    finally:
        watcher.close()


def start_fleet(db: Path, broker: Broker, port: int) -> subprocess.Popen[bytes]:
    """`agrifleet fleet serve` as its own process, one message per transaction."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGRIFLEET_")}
    env.update(
        PYTHONPATH=str(ROOT),
        AGRIFLEET_DATABASE_URL=f"sqlite:///{db}",
        AGRIFLEET_MQTT_URL=broker.fleet_url,
        AGRIFLEET_MQTT_CLIENT_ID="fleet-puback",
        AGRIFLEET_WRITER_MAX_MESSAGES="1",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "agrifleet", "fleet", "serve", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, timeout=60)
    return process


def queue_depth(port: int, token: str) -> float:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our own fleet
        for line in response.read().decode().splitlines():
            if line.startswith("agrifleet_ingest_queue_depth "):
                return float(line.split()[1])
    raise AssertionError("no queue depth in /metrics")


def stored_seqs(engine: sqlalchemy.Engine) -> list[int]:
    with engine.connect() as conn:
        return sorted(conn.execute(sqlalchemy.text(
            "SELECT seq FROM reading WHERE device_id = 'field-01'")).scalars())


def test_a_fleet_killed_before_commit_gets_its_messages_again(
    tmp_path: Path, broker: Broker
) -> None:
    db, port = tmp_path / "fleet.db", free_port()
    with watching(broker) as watcher:
        fleet = start_fleet(db, broker, port)
        try:
            first = watcher.next("online")
            engine = make_engine(f"sqlite:///{db}")
            with Session(engine) as session:
                session.add(DeviceRow(id="field-01"))
                session.commit()
            token = create_token(engine, "viewer")
            device = Device(broker.add_device("field-01"), "field-01")
            try:
                assert device.send("boot-1", [reading(s) for s in range(10)]).ranges == [(0, 9)]
                lock = sqlite3.connect(db, isolation_level=None)
                lock.execute("BEGIN IMMEDIATE")  # the fleet's writer now waits for the database
                for n in range(1, 6):
                    device.publish(batch("field-01", "boot-1",
                                         [reading(s) for s in range(10 * n, 10 * n + 10)]))
                # One message is in the writer's transaction, the other four wait behind it.
                wait_until(lambda: queue_depth(port, token) == 4, what="all five delivered")
                fleet.send_signal(signal.SIGKILL)
                fleet.wait(10)
                assert watcher.next("offline").instance == first.instance, "the last will"
                lock.execute("ROLLBACK")
                lock.close()
                assert stored_seqs(engine) == list(range(10)), "nothing was committed"
                assert device.acks.empty()

                fleet = start_fleet(db, broker, port)
                second = watcher.next("online")
                assert second.instance != first.instance
                acks = [device.next_ack(timeout=20) for _ in range(5)]  # the device sent nothing
            finally:
                device.close()
            assert sorted(a.ranges[0][0] for a in acks) == [10, 20, 30, 40, 50]
            assert stored_seqs(engine) == list(range(60)), "none lost, none twice"
        finally:
            fleet.send_signal(signal.SIGTERM)
            fleet.wait(30)
    engine.dispose()


def test_the_fleet_says_online_at_start_and_offline_on_a_clean_stop(
    tmp_path: Path, broker: Broker
) -> None:
    settings = FleetSettings(database_url=f"sqlite:///{tmp_path / 'fleet.db'}",
                             mqtt_url=broker.fleet_url, mqtt_client_id="fleet-status")
    with watching(broker) as watcher:
        with running_fleet(settings) as running:
            instance = running.app.state.ingestor.instance
            online = watcher.next("online")
            assert online.instance == instance and online.ts is not None
        assert watcher.next("offline").instance == instance
        with running_fleet(settings) as running:
            assert watcher.next("online").instance == running.app.state.ingestor.instance
            assert running.app.state.ingestor.instance != instance


def test_refused_messages_are_released_and_never_stall_the_good_ones(fleet: FleetUnderTest) -> None:
    """Over 100 refusals (the broker's in-flight window for the fleet is 100) do not block."""
    ghost = fleet.device("ghost-1", register=False)
    for _ in range(60):
        ghost.publish(batch("ghost-1", "boot-1", [reading(0)]))  # an unknown device
        ghost.publish(b"{not json")
    dev = fleet.device("field-01")
    assert dev.send("boot-1", [reading(0)]).ranges == [(0, 0)]
    assert fleet.metric('agrifleet_messages_refused_total{reason="unknown_device"}') == 60
    assert fleet.metric('agrifleet_messages_refused_total{reason="malformed_json"}') == 60
