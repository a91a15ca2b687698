"""Each broker account is pinned to its client id, on Mosquitto with dynamic security and on the
embedded broker alike: a device that connects with the fleet's client id, or another device's,
is refused and the holder of that id stays connected; a publish over the fleet's payload limit
is dropped by the broker."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from pydantic import TypeAdapter, ValidationError

from agrifleet.contract import MAX_PAYLOAD_BYTES, DeviceId, device_client_id
from agrifleet.fleet.settings import FleetSettings
from agrifleet.fleet.telemetry.workers import worker_client_id
from agrifleet.provisioning.dynsec import DynsecBroker, DynsecControl, device_acls, device_role
from agrifleet.provisioning.embedded_broker import EmbeddedBroker
from tests.services import connack, free_port

pytestmark = pytest.mark.slow  # brokers and fleets as processes

PASSWORDS = {"field-01": "password-of-field-01-0001", "field-02": "password-of-field-02-0001"}
FLEET_CLIENT_IDS = [FleetSettings().mqtt_client_id,
                    worker_client_id(FleetSettings(), "w1"), "agrifleet-fleet-api"]


@dataclass
class Accounts:
    port: int
    fleet_password: str


class Session:
    """One connected client that notes whether the broker ever dropped it."""

    def __init__(self, port: int, user: str, password: str, client_id: str) -> None:
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=mqtt.MQTTv311)
        self.client.username_pw_set(user, password)
        self.client.reconnect_delay_set(60, 60)  # a dropped session stays dropped
        self.dropped = threading.Event()
        self.received: list[tuple[str, int]] = []
        self._answer = threading.Event()
        self.refused: bool | None = None
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *_: self.dropped.set()
        self.client.on_message = lambda _c, _u, m: self.received.append((m.topic,
                                                                         len(m.payload)))
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()
        assert self._answer.wait(5), "no CONNACK within 5 s"

    def _on_connect(self, _c: object, _u: object, _f: object, rc: mqtt.ReasonCode,
                    _p: object) -> None:
        self.refused = rc.is_failure
        self._answer.set()

    def subscribe(self, topic: str) -> None:
        done = threading.Event()
        self.client.on_subscribe = lambda *_: done.set()
        self.client.subscribe(topic, qos=1)
        assert done.wait(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture(params=["mosquitto-dynsec", "embedded"])
def accounts(request: pytest.FixtureRequest) -> Iterator[Accounts]:
    """field-01 and field-02 as the fleet creates them, on either broker."""
    if request.param == "embedded":
        embedded = EmbeddedBroker(free_port(), {"fleet": "fleet-password-0001", **PASSWORDS})
        embedded.start()
        try:
            yield Accounts(embedded.port, "fleet-password-0001")
        finally:
            embedded.stop()
        return
    broker: DynsecBroker = request.getfixturevalue("dynsec_broker")
    control = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="agrifleet-fleet-test")
    control.username_pw_set("fleet", broker.config.fleet_password)
    with DynsecControl(control, "127.0.0.1", broker.port) as ctl:
        for device, password in PASSWORDS.items():
            ctl.create_device("agrifleet", device, password)
    yield Accounts(broker.port, broker.config.fleet_password)


def _attack(accounts: Accounts, victim: Session, client_id: str, password: str) -> None:
    """field-01 (or a guesser) connects as ``client_id`` three times: refused each time."""
    for _ in range(3):
        thief = Session(accounts.port, "field-01", password, client_id)
        try:
            assert thief.refused, f"field-01 got in as {client_id!r}"
        finally:
            thief.close()
    time.sleep(0.3)  # a takeover would have dropped the victim by now
    assert not victim.dropped.is_set(), f"{client_id!r} was taken over"


@pytest.mark.parametrize("client_id", FLEET_CLIENT_IDS)
def test_a_device_cannot_take_the_fleets_client_id(accounts: Accounts, client_id: str) -> None:
    fleet = Session(accounts.port, "fleet", accounts.fleet_password, client_id)
    try:
        assert fleet.refused is False
        _attack(accounts, fleet, client_id, PASSWORDS["field-01"])
        _attack(accounts, fleet, client_id, "a-wrong-password-000001")
    finally:
        fleet.close()


def test_a_device_cannot_take_another_devices_client_id(accounts: Accounts) -> None:
    victim = Session(accounts.port, "field-02", PASSWORDS["field-02"],
                     device_client_id("field-02"))
    try:
        assert victim.refused is False
        _attack(accounts, victim, device_client_id("field-02"), PASSWORDS["field-01"])
        for other in ("field-01", "anything", ""):  # not its own id either
            stray = Session(accounts.port, "field-02", PASSWORDS["field-02"], other)
            stray.close()
            assert stray.refused, other
    finally:
        victim.close()
    own = Session(accounts.port, "field-01", PASSWORDS["field-01"], device_client_id("field-01"))
    own.close()
    assert own.refused is False


def test_no_device_id_or_fleet_client_id_can_collide() -> None:
    """The fleet's client ids (agrifleet-fleet, agrifleet-fleet-…) are no device's."""
    for taken in ("fleet", "fleet-api", "fleet-ingest-w1", "fleet-accounts-1a2b3c4d"):
        with pytest.raises(ValidationError):
            TypeAdapter(DeviceId).validate_python(taken)
    assert TypeAdapter(DeviceId).validate_python("fleetwood-01") == "fleetwood-01"
    with pytest.raises(ValidationError, match="device's client id"):
        FleetSettings(mqtt_client_id="agrifleet-field-02")
    assert FleetSettings(mqtt_client_id="farm-office").mqtt_client_id == "farm-office"


def test_a_publish_over_the_fleets_limit_is_dropped_by_the_broker(accounts: Accounts) -> None:
    fleet = Session(accounts.port, "fleet", accounts.fleet_password, FLEET_CLIENT_IDS[0])
    device = Session(accounts.port, "field-01", PASSWORDS["field-01"],
                     device_client_id("field-01"))
    try:
        fleet.subscribe("agrifleet/+/messages")
        topic = "agrifleet/field-01/messages"
        device.client.publish(topic, b"x" * (MAX_PAYLOAD_BYTES + 1), qos=1).wait_for_publish(5)
        device.client.publish(topic, b"x" * MAX_PAYLOAD_BYTES, qos=1).wait_for_publish(5)
        deadline = time.monotonic() + 5
        while not fleet.received and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)
        assert fleet.received == [(topic, MAX_PAYLOAD_BYTES)]
    finally:
        device.close()
        fleet.close()


def test_pin_client_ids_pins_accounts_made_before_pinning(dynsec_broker: DynsecBroker,
                                                          tmp_path: Path) -> None:
    control = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="agrifleet-fleet-test")
    control.username_pw_set("fleet", dynsec_broker.config.fleet_password)
    with DynsecControl(control, "127.0.0.1", dynsec_broker.port) as ctl:
        ctl.run({"command": "createRole", "rolename": device_role("field-07"),
                 "acls": device_acls("agrifleet", "field-07")},
                {"command": "createClient", "username": "field-07",  # as the old fleet did
                 "password": "password-of-field-07-0001",
                 "roles": [{"rolename": device_role("field-07")}]})
    port, password = dynsec_broker.port, "password-of-field-07-0001"
    assert not connack(port, "field-07", password, client_id="agrifleet-fleet").is_failure
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGRIFLEET_")}
    env.update(AGRIFLEET_DATABASE_URL=f"sqlite:///{tmp_path / 'fleet.db'}",
               AGRIFLEET_DATA_DIR=str(tmp_path / "data"),
               AGRIFLEET_MQTT_URL=dynsec_broker.fleet_url)
    done = subprocess.run([sys.executable, "-m", "agrifleet", "fleet", "pin-client-ids"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "pinned 1 device account(s) to their client ids: field-07" in done.stdout
    assert connack(port, "field-07", password, client_id="agrifleet-fleet").is_failure
    assert not connack(port, "field-07", password).is_failure  # its own id still works
