"""Rollout fixtures: a fleet with MQTT and a published package, devices that look online and
run the base model (1.1.0), node reports written as the writer stores them, and a watcher of
retained offers."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from sqlmodel import Session

from agrifleet.contract import ModelOffer
from agrifleet.fleet.devices.tables import Device
from agrifleet.fleet.modelops.rollouts.engine import RolloutEngine
from agrifleet.fleet.people.auth import create_token
from agrifleet.fleet.settings import FleetSettings
from agrifleet.fleet.telemetry.tables import ModelUpdate
from agrifleet.manifest import read_manifest
from tests.base_model import BASE_MODEL_DIR, BASE_VERSION
from tests.fleet.conftest import FleetUnderTest, running_fleet
from tests.fleet.modelops.registry.conftest import Keys, keys  # noqa: F401 - the session fixture
from tests.fleet.modelops.registry.packages import archive, package_dir
from tests.services import Broker

MODEL_SHA = read_manifest(BASE_MODEL_DIR).sha256
OLD = {"name": "leaf-disease", "version": BASE_VERSION, "sha256": MODEL_SHA}
NEW = {"name": "leaf-disease", "version": "1.2.0", "sha256": MODEL_SHA}


def offers_at_broker(broker: Broker, timeout: float = 2.0) -> dict[str, ModelOffer | None]:
    """What a device connecting now would be given: retained offers by device id."""
    found: dict[str, ModelOffer | None] = {}
    subscribed, settled = threading.Event(), threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=secrets.token_hex(6))
    client.username_pw_set("fleet", broker.config.users["fleet"])

    def on_message(_c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        device = message.topic.split("/")[1]
        if message.topic.endswith("/_probe"):
            settled.set()  # retained messages come before this one
            return
        found[device] = ModelOffer.model_validate_json(message.payload) if message.payload \
            else None

    client.on_message = on_message
    client.on_subscribe = lambda *_: subscribed.set()
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        client.subscribe("agrifleet/+/model/offer", qos=1)
        assert subscribed.wait(timeout)
        client.subscribe("agrifleet/_fleet/_probe", qos=1)
        client.publish("agrifleet/_fleet/_probe", b"x", qos=1)
        assert settled.wait(timeout), "the broker did not answer"
    finally:
        client.disconnect()
        client.loop_stop()
    return found


@dataclass
class Fleet:
    fleet: FleetUnderTest
    broker: Broker
    technician: dict[str, str]
    seq: dict[str, int] = field(default_factory=dict)

    @property
    def engine(self) -> RolloutEngine:
        engine: RolloutEngine = self.fleet.app.state.rollouts
        return engine

    def devices(self, *ids: str, online: bool = True, model: dict[str, str] | None = None,
                tags: list[str] | None = None) -> None:
        """Registered devices whose last status said online (or not), running ``model``."""
        with Session(self.fleet.app.state.engine) as session:
            for device_id in ids:
                session.add(Device(id=device_id, online=online, last_seen=datetime.now(UTC),
                                   health={"model": model or OLD, "outbox_depth": 0},
                                   tags=tags or []))
            session.commit()

    def set_online(self, device_id: str, online: bool) -> None:
        with Session(self.fleet.app.state.engine) as session:
            device = session.get(Device, device_id)
            assert device is not None
            device.online, device.last_seen = online, datetime.now(UTC)
            session.add(device)
            session.commit()

    def report(self, rollout_id: int, device_id: str, state: str, *, version: str = "1.2.0",
               active: dict[str, str] | None = None, gate: dict[str, float] | None = None,
               reason: str | None = None, bytes_done: int | None = None) -> None:
        """A node's Update item as the writer stores it."""
        seq = self.seq.get(device_id, 0)
        self.seq[device_id] = seq + 1
        now = datetime.now(UTC)
        with Session(self.fleet.app.state.engine) as session:
            session.add(ModelUpdate(
                device_id=device_id, boot_id="b1", seq=seq, ts=now, uptime_s=float(seq),
                clock_synced=True, rollout_id=rollout_id, model="leaf-disease",
                version=version, state=state, reason=reason, bytes_done=bytes_done,
                gate=gate, active=active, stored_at=now))
            session.commit()

    def succeed(self, rollout_id: int, *device_ids: str, gate: dict[str, float] | None = None
                ) -> None:
        for device_id in device_ids:
            self.report(rollout_id, device_id, "downloading", bytes_done=10)
            self.report(rollout_id, device_id, "shadow", gate=gate)
            self.report(rollout_id, device_id, "active", active=NEW, gate=gate)

    def start(self, **body: Any) -> dict[str, Any]:
        body = {"model": "leaf-disease", "version": "1.2.0", **body}
        response = self.fleet.client.post("/api/v1/rollouts", json=body,
                                          headers=self.technician)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    def act(self, rollout_id: int, action: str, note: str = "") -> dict[str, Any]:
        response = self.fleet.client.post(f"/api/v1/rollouts/{rollout_id}/{action}",
                                          json={"note": note}, headers=self.technician)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def status(self, rollout_id: int, tick: bool = True,
               later: timedelta = timedelta(0)) -> dict[str, Any]:
        if tick:
            self.engine.tick(datetime.now(UTC) + later)
        result: dict[str, Any] = self.fleet.get(f"/api/v1/rollouts/{rollout_id}")
        return result

    @staticmethod
    def states(status: dict[str, Any]) -> dict[str, str]:
        return {d["device_id"]: d["state"] for d in status["devices"]}


@pytest.fixture
def published(tmp_path_factory: pytest.TempPathFactory, keys: Keys) -> dict[str, bytes]:  # noqa: F811
    folder = tmp_path_factory.mktemp("packages")
    return {v: archive(package_dir(folder / v, v, keys.key)) for v in (BASE_VERSION, "1.2.0")}


@pytest.fixture
def rollouts(tmp_path: Path, broker: Broker, keys: Keys, migrated_database_url: str,  # noqa: F811
             published: dict[str, bytes]) -> Iterator[Fleet]:
    """The fleet on SQLite and on PostgreSQL, with the base version (1.1.0) and 1.2.0 published."""
    settings = FleetSettings(
        database_url=migrated_database_url, mqtt_url=broker.fleet_url,
        mqtt_client_id=f"fleet-{secrets.token_hex(4)}", data_dir=tmp_path / "data",
        model_keys=(keys.pub,), public_url="http://fleet.example:8000",
        rollout_tick_s=60,  # the tests tick the engine themselves
    )
    with running_fleet(settings) as fleet:
        assert fleet.app.state.ingestor.wait_connected(10)
        token = create_token(fleet.app.state.engine, "technician", "tess")
        tech = {"Authorization": f"Bearer {token}"}
        for version in (BASE_VERSION, "1.2.0"):
            response = fleet.client.post("/api/v1/models", content=published[version],
                                         headers={**tech, "Content-Type": "application/gzip"})
            assert response.status_code == 201, response.text
        yield Fleet(fleet, broker, tech)


def offer_json(offer: ModelOffer | None) -> dict[str, Any] | None:
    return None if offer is None else json.loads(offer.model_dump_json())
