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


def test_a_device_cannot_publish_an_offer_to_itself_or_another_device(broker: Broker) -> None:
    """Offers come only from the fleet: a device's offer-looking messages reach no one."""
    broker.add_device("field-01")
    broker.add_device("field-02")
    received: list[tuple[str, str]] = []
    acks = threading.Semaphore(0)
    clients: dict[str, mqtt.Client] = {}
    for name in ("field-01", "field-02", "fleet"):
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"offer-{name}")
        client.username_pw_set(name, broker.config.users[name])

        def on_message(c: mqtt.Client, userdata: object, message: mqtt.MQTTMessage,
                       who: str = name) -> None:
            received.append((who, message.topic))
            if message.topic.endswith("/ack"):
                acks.release()

        client.on_message = on_message
        client.connect("127.0.0.1", broker.port)
        client.loop_start()
        clients[name] = client
    try:
        for name in ("field-01", "field-02"):
            subscribed = threading.Event()
            clients[name].on_subscribe = lambda *_a, e=subscribed: e.set()
            clients[name].subscribe([(f"agrifleet/{name}/model/offer", 1),
                                     (f"agrifleet/{name}/ack", 1)])
            assert subscribed.wait(5)
        forged = b'{"v":1,"rollout_id":1,"name":"leaf-disease","version":"9.9.9"}'
        for topic in ("agrifleet/field-01/model/offer", "agrifleet/field-02/model/offer"):
            clients["field-01"].publish(topic, forged, qos=1, retain=True).wait_for_publish(5)
        for name in ("field-01", "field-02"):  # after the forgeries, in order, at each device
            clients["fleet"].publish(f"agrifleet/{name}/ack", b"{}", qos=1).wait_for_publish(5)
        assert acks.acquire(timeout=5) and acks.acquire(timeout=5)
        assert sorted(received) == [("field-01", "agrifleet/field-01/ack"),
                                    ("field-02", "agrifleet/field-02/ack")]
    finally:
        for client in clients.values():
            client.loop_stop()
