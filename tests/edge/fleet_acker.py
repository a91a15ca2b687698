"""A small real fleet for edge tests: validates every Batch it receives and publishes Acks."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from pydantic import ValidationError

from agrifleet.contract import (
    DEFAULT_PREFIX,
    FLEET_SEGMENT,
    Ack,
    Batch,
    FleetStatus,
    Status,
    ack_topic,
    device_from_topic,
    fleet_status_topic,
    fleet_subscriptions,
    seq_ranges,
)


class FleetAcker:
    """Subscribes to every device's messages and status as the fleet user; acks what it "stores".

    ``acking`` off: batches are recorded but not acknowledged. ``reject``: seqs refused on ack.
    ``ignore_first`` n: the first n batches are dropped silently (a fleet that crashed).
    """

    def __init__(self, url: str, prefix: str = DEFAULT_PREFIX) -> None:
        self.prefix = prefix
        parts = urlsplit(url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 1883
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-fleet")
        self._client.username_pw_set(parts.username, parts.password)
        self._client.reconnect_delay_set(1, 2)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self.acking = True
        self.reject: dict[int, str] = {}
        self.ignore_first = 0
        self.deliveries: list[tuple[str, int]] = []  # (boot_id, seq) per item received
        self.stored: dict[str, set[int]] = defaultdict(set)
        self.acked: dict[str, set[int]] = defaultdict(set)
        self.after_ack: list[tuple[str, int]] = []  # items received again after we acked them
        self.batches: list[Batch] = []
        self.invalid: list[str] = []
        self.statuses: list[Status] = []
        self.connected = threading.Event()
        self._lock = threading.Lock()

    def start(self) -> FleetAcker:
        self._client.connect(self._host, self._port, keepalive=10)
        self._client.loop_start()
        assert self.connected.wait(10), "fleet acker could not connect"
        return self

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(self, client: mqtt.Client, userdata, flags, reason_code, properties) -> None:
        client.subscribe([(topic, 1) for topic in fleet_subscriptions(self.prefix)])
        self.connected.set()

    def announce(self, state: str, instance: str, ts: str | None = None) -> None:
        """Publish the retained FleetStatus, as the fleet's ingestion does at start and stop."""
        status = FleetStatus.model_validate({"state": state, "instance": instance, "ts": ts})
        self.publish_fleet_status(status.model_dump_json().encode())

    def publish_fleet_status(self, payload: bytes) -> None:
        self._client.publish(fleet_status_topic(self.prefix), payload, qos=1,
                             retain=True).wait_for_publish(5)

    def _on_message(self, client: mqtt.Client, userdata, msg: mqtt.MQTTMessage) -> None:
        where = device_from_topic(self.prefix, msg.topic)
        if where is None:
            return
        device, leaf = where
        if device == FLEET_SEGMENT:
            return
        if leaf == "status":
            if msg.payload:
                self.statuses.append(Status.model_validate_json(msg.payload))
            return
        if leaf != "messages":
            return
        try:
            batch = Batch.model_validate_json(msg.payload)
        except ValidationError as exc:
            self.invalid.append(str(exc))
            return
        seqs = [item.seq for item in batch.items]
        assert seqs == sorted(seqs), "a batch must hold items in seq order"
        with self._lock:
            if self.ignore_first > 0:
                self.ignore_first -= 1
                return
            self.batches.append(batch)
            for seq in seqs:
                self.deliveries.append((batch.boot_id, seq))
                if seq in self.acked[batch.boot_id]:
                    self.after_ack.append((batch.boot_id, seq))
            if not self.acking:
                return
            rejected = {s: r for s, r in self.reject.items() if s in seqs}
            kept = [s for s in seqs if s not in rejected]
            self.stored[batch.boot_id].update(kept)
            self.acked[batch.boot_id].update(seqs)
        ack = Ack(boot_id=batch.boot_id, ranges=seq_ranges(kept), rejected=rejected)
        client.publish(ack_topic(self.prefix, device), ack.model_dump_json(), qos=1)

    def items(self) -> list:
        with self._lock:
            return [item for batch in self.batches for item in batch.items]

    def wait_for(self, predicate: Callable[[], object], timeout: float = 15.0) -> None:
        wait_until(predicate, timeout)


def wait_until(predicate: Callable[[], object], timeout: float = 15.0, what: str = "") -> None:
    """Poll a condition the system under test is expected to reach."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(0.02)
