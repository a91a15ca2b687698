"""A real paho client posing as a field device, and builders for contract items."""

from __future__ import annotations

import base64
import io
import json
import queue
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt

from agrifleet.contract import (
    DEFAULT_PREFIX,
    Ack,
    ack_topic,
    device_client_id,
    messages_topic,
    status_topic,
)

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def reading(
    seq: int,
    value: float = 21.5,
    sensor: str = "soil",
    quantity: str = "moisture",
    unit: str = "%",
    ts: datetime | None = None,
) -> dict[str, Any]:
    when = ts or T0 + timedelta(seconds=seq)
    return {
        "kind": "reading",
        "seq": seq,
        "ts": when.isoformat(),
        "uptime_s": float(seq),
        "sensor": sensor,
        "quantity": quantity,
        "value": value,
        "unit": unit,
    }


def jpeg_bytes() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (16, 16), (40, 160, 60)).save(out, format="JPEG")
    return out.getvalue()


def detection(seq: int, label: str = "Tomato___Late_blight", image: bytes | None = None):
    return {
        "kind": "detection",
        "seq": seq,
        "ts": (T0 + timedelta(seconds=seq)).isoformat(),
        "uptime_s": float(seq),
        "camera": "leafcam",
        "label": label,
        "confidence": 0.93,
        "uncertain": False,
        "top3": [
            {"label": label, "confidence": 0.93},
            {"label": "Tomato___healthy", "confidence": 0.05},
        ],
        "model": {"name": "leafnet", "version": "1.0.0", "sha256": "a" * 64},
        "inference_ms": 42.0,
        "image_sha256": "b" * 64,
        "thumbnail_jpeg_b64": base64.b64encode(image).decode() if image else None,
    }


def event(seq: int, severity: str = "warning", code: str = "sensor_silent"):
    return {
        "kind": "event",
        "seq": seq,
        "ts": (T0 + timedelta(seconds=seq)).isoformat(),
        "uptime_s": float(seq),
        "severity": severity,
        "code": code,
        "message": "soil probe stopped answering",
        "sensor": "soil",
    }


def update(seq: int, state: str = "downloading", rollout_id: int = 1, **fields: Any):
    """A model-update item of rollout ``rollout_id`` (contract ``Update``)."""
    return {
        "kind": "update",
        "seq": seq,
        "ts": (T0 + timedelta(seconds=seq)).isoformat(),
        "uptime_s": float(seq),
        "rollout_id": rollout_id,
        "model": "leaf-disease",
        "version": "1.1.0",
        "state": state,
        **fields,
    }


def batch(device_id: str, boot_id: str, items: list[dict[str, Any]]) -> bytes:
    return json.dumps({"v": 1, "device_id": device_id, "boot_id": boot_id, "items": items}).encode()


class Device:
    """Publishes as one device with its own least-privilege credentials; collects its acks."""

    def __init__(self, url: str, device_id: str, prefix: str = DEFAULT_PREFIX) -> None:
        self.device_id = device_id
        self.prefix = prefix
        self.acks: queue.Queue[Ack] = queue.Queue()
        parts = urlsplit(url)
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=device_client_id(device_id))
        self.client.username_pw_set(parts.username, parts.password)
        self.client.on_message = lambda _c, _u, m: self.acks.put(Ack.model_validate_json(m.payload))
        self.client.connect(parts.hostname or "127.0.0.1", parts.port or 1883, keepalive=10)
        self.client.loop_start()
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.subscribe(ack_topic(prefix, device_id), qos=1)
        assert subscribed.wait(10), f"{device_id} could not subscribe to its acks"

    def publish(self, payload: bytes, leaf: str = "messages", retain: bool = False) -> None:
        topic = (messages_topic if leaf == "messages" else status_topic)(
            self.prefix, self.device_id
        )
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)

    def send(self, boot_id: str, items: list[dict[str, Any]]) -> Ack:
        """Publish a batch and return the fleet's ack for it."""
        self.publish(batch(self.device_id, boot_id, items))
        return self.next_ack()

    def status(self, state: str = "online", boot_id: str = "boot-1", **health: Any) -> None:
        body = {
            "v": 1,
            "device_id": self.device_id,
            "boot_id": boot_id,
            "state": state,
            "ts": datetime.now(UTC).isoformat(),
            "health": {"outbox_depth": 0, **health} if health or state == "online" else None,
        }
        self.publish(json.dumps(body).encode(), leaf="status", retain=True)

    def next_ack(self, timeout: float = 15.0) -> Ack:
        return self.acks.get(timeout=timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def wait_until(predicate: Callable[[], bool], timeout: float = 15.0, what: str = "") -> None:
    """Poll a condition the fleet is expected to reach."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(0.02)
