"""Mosquitto with the dynamic security plugin specifies: no anonymous or wrong-password client
gets in, a device's account reaches only its own topics, and deleting it closes its session."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from agrifleet.contract import device_client_id
from agrifleet.provisioning.dynsec import (
    DynsecBroker,
    DynsecConfig,
    DynsecControl,
    device_acls,
    hash_password,
    initial_config,
)
from tests.services import connack


def control(broker: DynsecBroker) -> DynsecControl:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-control")
    client.username_pw_set("fleet", broker.config.fleet_password)
    return DynsecControl(client, "127.0.0.1", broker.port)


class Client:
    """A connected client that records what it receives and how its subscriptions went."""

    def __init__(self, port: int, user: str, password: str, client_id: str | None = None) -> None:
        self.received: list[str] = []
        self.granted: list[bool] = []
        self.disconnected = threading.Event()
        self._suback = threading.Event()
        if client_id is None:  # a device's own, the fleet's a test's
            client_id = "t-fleet" if user == "fleet" else device_client_id(user)
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.username_pw_set(user, password)
        self.client.on_message = lambda _c, _u, m: self.received.append(m.topic)
        self.client.on_disconnect = lambda *_: self.disconnected.set()
        self.client.on_subscribe = self._on_subscribe
        connected = threading.Event()
        self.client.on_connect = lambda *_: connected.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert connected.wait(5)

    def _on_subscribe(self, _c: object, _u: object, _m: object, reasons: list[mqtt.ReasonCode],
                      _p: object) -> None:
        self.granted += [not r.is_failure for r in reasons]
        self._suback.set()

    def subscribe(self, topic: str) -> bool:
        self._suback.clear()
        self.client.subscribe(topic, qos=1)
        assert self._suback.wait(5)
        return self.granted[-1]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_the_initial_file_is_private_and_its_hash_is_the_plugins(tmp_path: Path) -> None:
    config = DynsecConfig(tmp_path, 1883, fleet_password="s3cret-fleet-password")
    config.write()
    assert os.stat(config.dynsec_path).st_mode & 0o777 == 0o600
    data = json.loads(config.dynsec_path.read_text())
    assert "s3cret-fleet-password" not in config.dynsec_path.read_text()
    assert data["defaultACLAccess"] == {"publishClientSend": False, "publishClientReceive": False,
                                        "subscribe": False, "unsubscribe": False}
    # the same function mosquitto_ctrl's output was checked against (PBKDF2-SHA512, base64)
    client = data["clients"][0]
    import base64

    salt = base64.b64decode(client["salt"])
    again = hash_password("s3cret-fleet-password", salt=salt, iterations=client["iterations"])
    assert again["password"] == client["password"]
    assert initial_config("x", "agrifleet")["clients"][0]["username"] == "fleet"


def test_a_device_role_is_exactly_its_contract_topics() -> None:
    acls = device_acls("agrifleet", "field-01")
    assert {(a["acltype"], a["topic"]) for a in acls if a["acltype"] == "publishClientSend"} == {
        ("publishClientSend", "agrifleet/field-01/status"),
        ("publishClientSend", "agrifleet/field-01/messages")}
    assert {a["topic"] for a in acls if a["acltype"] == "subscribePattern"} == {
        "agrifleet/field-01/ack", "agrifleet/field-01/model/#", "agrifleet/_fleet/status"}


def test_strangers_are_refused_and_an_enrolled_device_gets_in(dynsec_broker: DynsecBroker
                                                              ) -> None:
    with control(dynsec_broker) as ctl:
        ctl.create_device("agrifleet", "field-01", "a-long-device-password-0001")
    port = dynsec_broker.port
    assert connack(port).is_failure
    assert connack(port, "field-01", "wrong-password").is_failure
    assert connack(port, "nobody", "a-long-device-password-0001").is_failure
    assert not connack(port, "field-01", "a-long-device-password-0001").is_failure


def test_a_device_neither_reads_nor_writes_another_devices_topics(dynsec_broker: DynsecBroker
                                                                  ) -> None:
    with control(dynsec_broker) as ctl:
        ctl.create_device("agrifleet", "dev-a", "password-of-device-a-0001")
        ctl.create_device("agrifleet", "dev-b", "password-of-device-b-0001")
    port = dynsec_broker.port
    fleet = Client(port, "fleet", dynsec_broker.config.fleet_password)
    a = Client(port, "dev-a", "password-of-device-a-0001")
    b = Client(port, "dev-b", "password-of-device-b-0001")
    try:
        assert fleet.subscribe("agrifleet/#")
        for foreign in ("agrifleet/dev-b/ack", "agrifleet/dev-b/model/#", "agrifleet/+/ack",
                        "agrifleet/#", "#", "$CONTROL/dynamic-security/#"):
            assert not a.subscribe(foreign), foreign
        assert a.subscribe("agrifleet/dev-a/ack")
        assert b.subscribe("agrifleet/dev-b/ack")
        for topic in ("agrifleet/dev-b/messages", "agrifleet/dev-b/status",
                      "agrifleet/_fleet/status", "agrifleet/dev-b/ack", "other/topic"):
            a.client.publish(topic, b"forged", qos=1).wait_for_publish(5)
        a.client.publish("agrifleet/dev-a/messages", b"mine", qos=1).wait_for_publish(5)
        fleet.client.publish("agrifleet/dev-b/ack", b"{}", qos=1).wait_for_publish(5)
        fleet.client.publish("agrifleet/dev-b/model/offer", b"{}", qos=1).wait_for_publish(5)
        deadline = time.monotonic() + 5
        while "agrifleet/dev-a/messages" not in fleet.received and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.5)  # what should not arrive has had its time
        # of A's messages only the one on its own topic reached anybody
        assert [t for t in fleet.received if t != "agrifleet/dev-b/ack"
                and not t.endswith("/offer")] == ["agrifleet/dev-a/messages"]
        assert a.received == []
        assert b.received == ["agrifleet/dev-b/ack"]
    finally:
        for c in (fleet, a, b):
            c.close()


@pytest.mark.parametrize("how", ["delete", "disable"])
def test_removing_an_account_closes_its_open_session_within_2_s(
        dynsec_broker: DynsecBroker, how: str) -> None:
    with control(dynsec_broker) as ctl:
        ctl.create_device("agrifleet", "field-09", "password-of-field-09-0001")
        device = Client(dynsec_broker.port, "field-09", "password-of-field-09-0001")
        try:
            started = time.monotonic()
            (ctl.delete_device if how == "delete" else ctl.disable_device)("field-09")
            assert device.disconnected.wait(2), "the session stayed open"
            assert time.monotonic() - started < 2
        finally:
            device.close()
    assert connack(dynsec_broker.port, "field-09", "password-of-field-09-0001").is_failure
