"""The embedded Python broker refuses strangers and enforces the per-device ACL, like Mosquitto."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest

from agrifleet.contract import device_client_id
from agrifleet.provisioning.embedded_broker import EmbeddedBroker
from tests.services import free_port

USERS = {"fleet": "fleet-secret", "field-01": "device-secret"}


@pytest.fixture
def embedded() -> Iterator[EmbeddedBroker]:
    broker = EmbeddedBroker(free_port(), USERS)
    broker.start()
    yield broker
    broker.stop()


def _client(port: int, user: str | None, password: str | None) -> tuple[mqtt.Client, bool]:
    connected = threading.Event()
    outcome: list[bool] = []
    client_id = "" if user in (None, "fleet") else device_client_id(user or "")
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
    if user:
        client.username_pw_set(user, password)

    def on_connect(c: mqtt.Client, u: object, f: object, rc: mqtt.ReasonCode, p: object) -> None:
        outcome.append(not rc.is_failure)
        connected.set()

    client.on_connect = on_connect
    client.connect("127.0.0.1", port)
    client.loop_start()
    assert connected.wait(5)
    return client, outcome[0]


def test_anonymous_and_wrong_password_are_refused(embedded: EmbeddedBroker) -> None:
    for user, password in [(None, None), ("field-01", "guess")]:
        client, ok = _client(embedded.port, user, password)
        client.loop_stop()
        assert not ok


def test_device_messages_reach_the_fleet_but_not_forged_ones(embedded: EmbeddedBroker) -> None:
    fleet, ok = _client(embedded.port, "fleet", USERS["fleet"])
    assert ok
    topics: list[str] = []
    arrived = threading.Event()

    def on_message(c: mqtt.Client, u: object, m: mqtt.MQTTMessage) -> None:
        topics.append(m.topic)
        arrived.set()

    fleet.on_message = on_message
    subscribed = threading.Event()
    fleet.on_subscribe = lambda *args: subscribed.set()
    fleet.subscribe("agrifleet/+/messages", qos=1)
    assert subscribed.wait(5)
    device, ok = _client(embedded.port, "field-01", USERS["field-01"])
    assert ok
    device.publish("agrifleet/field-02/messages", b"forged", qos=1).wait_for_publish(5)
    device.publish("agrifleet/field-01/messages", b"real", qos=1).wait_for_publish(5)
    assert arrived.wait(5)
    arrived.clear()
    arrived.wait(0.5)  # time for a wrongly forwarded message to show up
    device.loop_stop()
    fleet.loop_stop()
    assert topics == ["agrifleet/field-01/messages"]
