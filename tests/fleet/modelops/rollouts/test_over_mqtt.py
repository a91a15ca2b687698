"""The whole exchange over the real wire specifies: a device (with its own least-privilege
credentials) gets its retained offer, downloads with the offer's token, reports Update items
through MQTT, and the rollout completes only after the fleet stored the active report."""

from __future__ import annotations

import hashlib
import queue
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt

from agrifleet.contract import ModelOffer, offer_topic
from tests.fleet.device import Device, update
from tests.fleet.modelops.rollouts.conftest import NEW, OLD, Fleet


def _offers(url: str, device_id: str) -> tuple[mqtt.Client, queue.Queue[bytes]]:
    got: queue.Queue[bytes] = queue.Queue()
    parts = urlsplit(url)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"offers-{device_id}")
    client.username_pw_set(parts.username, parts.password)
    client.on_message = lambda _c, _u, m: got.put(bytes(m.payload))
    client.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
    client.subscribe(offer_topic("agrifleet", device_id), qos=1)
    client.loop_start()
    return client, got


def test_offer_download_and_reports_over_mqtt(rollouts: Fleet,
                                              published: dict[str, bytes]) -> None:
    url = rollouts.broker.add_device("field-7")
    rollouts.fleet.register("field-7")
    device = Device(url, "field-7")
    rollouts.fleet.devices.append(device)
    device.status(model=OLD)
    rid = rollouts.start(targets={"devices": ["field-7"]})["id"]

    listener, offers = _offers(url, "field-7")
    try:
        offer = ModelOffer.model_validate_json(offers.get(timeout=10))
    finally:
        listener.disconnect()
        listener.loop_stop()
    assert (offer.rollout_id, offer.version, offer.size) == (rid, "1.2.0",
                                                             len(published["1.2.0"]))
    path = urlsplit(offer.url).path
    body = rollouts.fleet.client.get(path, headers={"Authorization": f"Bearer {offer.token}"})
    assert hashlib.sha256(body.content).hexdigest() == offer.sha256

    items = [update(0, "downloading", rid, version="1.2.0", bytes_done=offer.size,
                    bytes_total=offer.size),
             update(1, "verifying", rid, version="1.2.0"),
             update(2, "shadow", rid, version="1.2.0",
                    gate={"images": 20, "agreement": 1.0, "mean_confidence": 0.9,
                          "uncertain_rate": 0.0, "latency_ms": 20.0})]
    ack = device.send("boot-1", items)
    assert ack.ranges == [(0, 2)] and not ack.rejected
    status = rollouts.status(rid)
    assert rollouts.states(status) == {"field-7": "shadow"} and status["state"] == "running"
    assert status["devices"][0]["gate"]["agreement"] == 1.0

    ack = device.send("boot-1", [update(3, "active", rid, version="1.2.0", active=NEW)])
    assert ack.ranges == [(3, 3)]
    status = rollouts.status(rid)
    assert status["state"] == "completed"
    assert rollouts.states(status) == {"field-7": "active"}
