"""MQTT ingestion: the network thread only enqueues; the writer thread stores and acknowledges."""

from __future__ import annotations

import logging
import queue
import ssl
import threading
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from sqlalchemy import Engine

from agrifleet.contract import MAX_PAYLOAD_BYTES, Ack, ack_topic
from fleet.metrics import Metrics
from fleet.settings import FleetSettings, mask_url
from fleet.writer import Incoming, Writer

log = logging.getLogger(__name__)


class Ingestor:
    """Subscribes to every device's messages and status; owns the MQTT client and the writer."""

    def __init__(self, settings: FleetSettings, engine: Engine, metrics: Metrics) -> None:
        if settings.mqtt_url is None:
            raise ValueError("ingestion needs AGRIFLEET_MQTT_URL")
        self.settings = settings
        self.metrics = metrics
        self.prefix = settings.mqtt_prefix
        self.inbox: queue.Queue[Incoming] = queue.Queue(maxsize=settings.queue_max_messages)
        self.writer = Writer(engine, metrics, self.prefix, self._send_ack)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._connected = threading.Event()
        self.client = self._make_client(settings.mqtt_url)

    def _make_client(self, url: str) -> mqtt.Client:
        parts = urlsplit(url)
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=self.settings.mqtt_client_id,
            clean_session=False,  # the broker keeps our QoS 1 messages while we restart
            protocol=mqtt.MQTTv311,
        )
        if parts.username:
            client.username_pw_set(unquote(parts.username), unquote(parts.password or ""))
        ca_file = self.settings.mqtt_ca_file
        tls = parts.scheme == "mqtts" or ca_file is not None
        if tls:  # the broker's certificate and name are checked, by ca_file or the system CAs
            client.tls_set(ca_certs=str(ca_file) if ca_file else None,
                           cert_reqs=ssl.CERT_REQUIRED)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        self._host = parts.hostname or "localhost"
        self._port = parts.port or (8883 if tls else 1883)
        return client

    @property
    def queue_depth(self) -> int:
        return self.inbox.qsize()

    def start(self) -> None:
        """Start the writer thread and connect (retrying in the background)."""
        self._thread = threading.Thread(
            target=self.writer.run,
            args=(self.inbox, self._stop, self.settings.writer_max_messages),
            name="fleet-writer",
            daemon=True,
        )
        self._thread.start()
        log.info(
            "ingesting from %s (prefix %r)", mask_url(self.settings.mqtt_url or ""), self.prefix
        )
        self.client.connect_async(self._host, self._port, keepalive=self.settings.mqtt_keepalive_s)
        self.client.loop_start()

    def wait_connected(self, timeout: float) -> bool:
        """True once subscribed to the device topics."""
        return self._connected.wait(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop taking messages, store what is queued, then disconnect."""
        self.client.on_message = None
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.client.disconnect()
        self.client.loop_stop()

    # --- paho callbacks (network thread) -------------------------------------------------

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            log.warning("MQTT broker refused the fleet: %s", reason)
            return
        client.subscribe(
            [(f"{self.prefix}/+/messages", 1), (f"{self.prefix}/+/status", 1)],
        )
        log.info("connected to the MQTT broker at %s:%s", self._host, self._port)

    def _on_subscribe(self, _c: Any, _u: Any, _mid: Any, reasons: Any, _p: Any) -> None:
        if any(r.is_failure for r in reasons):
            log.warning("the broker refused a subscription: %s", reasons)
            return
        self._connected.set()

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self._connected.clear()
        if not self._stop.is_set():
            log.info("MQTT connection lost (%s); reconnecting", reason)

    def _on_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        payload = message.payload
        if len(payload) > MAX_PAYLOAD_BYTES:  # counted here: never hold it in memory longer
            self.writer.refuse_oversized(message.topic, len(payload))
            return
        # Blocks when the writer is far behind, which slows the broker down instead of
        # growing without bound.
        self.inbox.put(Incoming(message.topic, bytes(payload)))

    def publish(self, topic: str, payload: bytes, retain: bool) -> None:
        """Publish with QoS 1 on the fleet's connection (paho queues it while disconnected)."""
        self.client.publish(topic, payload, qos=1, retain=retain)

    # --- writer thread -------------------------------------------------------------------

    def _send_ack(self, device_id: str, ack: Ack) -> None:
        self.client.publish(ack_topic(self.prefix, device_id), ack.model_dump_json(), qos=1)
