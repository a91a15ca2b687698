"""Mosquitto as provisioned refuses strangers and keeps each device to its own topics."""

from __future__ import annotations

import threading

import paho.mqtt.client as mqtt
import pytest

from tests.services import Broker, connack


def test_anonymous_client_is_refused(broker: Broker) -> None:
    assert connack(broker.port, None, None).is_failure


def test_wrong_password_is_refused(broker: Broker) -> None:
    broker.add_device("field-01")
    assert connack(broker.port, "field-01", "not-the-password").is_failure


def test_device_cannot_read_another_devices_acks(broker: Broker) -> None:
    broker.add_device("field-01")
    broker.add_device("field-02")
    received: list[str] = []
    got = threading.Event()
    spy = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    spy.username_pw_set("field-02", broker.config.users["field-02"])

    def on_message(c: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        received.append(message.topic)
        got.set()

    spy.on_message = on_message
    spy.connect("127.0.0.1", broker.port)
    spy.subscribe("agrifleet/+/ack", qos=1)
    spy.loop_start()
    fleet = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    fleet.username_pw_set("fleet", broker.config.users["fleet"])
    fleet.connect("127.0.0.1", broker.port)
    fleet.loop_start()
    try:
        fleet.publish("agrifleet/field-01/ack", b"{}", qos=1).wait_for_publish(5)
        fleet.publish("agrifleet/field-02/ack", b"{}", qos=1).wait_for_publish(5)
        assert got.wait(5)
        got.clear()
        got.wait(0.5)  # give a wrongly delivered message time to arrive
        assert received == ["agrifleet/field-02/ack"]
    finally:
        fleet.loop_stop()
        spy.loop_stop()


@pytest.mark.parametrize("device", ["field-01"])
def test_valid_device_connects(broker: Broker, device: str) -> None:
    broker.add_device(device)
    assert not connack(broker.port, device, broker.config.users[device]).is_failure


def test_devices_read_the_fleet_status_but_not_each_others_offers(broker: Broker) -> None:
    """The retained fleet status reaches every device; another device's offer reaches none."""
    broker.add_device("field-01")
    fleet = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    fleet.username_pw_set("fleet", broker.config.users["fleet"])
    fleet.connect("127.0.0.1", broker.port)
    fleet.loop_start()
    fleet.publish("agrifleet/_fleet/status", b'{"v":1,"state":"online","instance":"a"}', qos=1,
                  retain=True).wait_for_publish(5)
    fleet.publish("agrifleet/field-02/model/offer", b"{}", qos=1, retain=True).wait_for_publish(5)
    received: list[str] = []
    got = threading.Event()
    device = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    device.username_pw_set("field-01", broker.config.users["field-01"])

    def on_message(c: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        received.append(message.topic)
        got.set()

    device.on_message = on_message
    device.connect("127.0.0.1", broker.port)
    device.loop_start()
    try:
        device.subscribe([("agrifleet/field-02/model/offer", 1), ("agrifleet/_fleet/status", 1),
                          ("agrifleet/field-01/ack", 1)])
        assert got.wait(5), "the retained fleet status did not arrive"
        got.clear()
        # A device may not speak for the fleet: had the broker taken this, it came back to us
        # before the ack the fleet sends after it.
        device.publish("agrifleet/_fleet/status", b"{}", qos=1).wait_for_publish(5)
        fleet.publish("agrifleet/field-01/ack", b"{}", qos=1).wait_for_publish(5)
        assert got.wait(5)
        assert received == ["agrifleet/_fleet/status", "agrifleet/field-01/ack"]
    finally:
        device.loop_stop()
        fleet.loop_stop()
