"""MQTT ingestion: the network thread only enqueues; the writer thread stores and acknowledges.

A message is released to the broker (its PUBACK) only once the writer has committed it, or
refused it for good: paho runs with ``manual_ack`` and a persistent session (clean_session off,
a fixed client id), so the broker delivers again whatever a fleet that was killed or lost its
database had taken but not stored. Messages held for a retry during a database outage stay
unreleased; they occupy the broker's in-flight window for this client (Mosquitto's
``max_inflight_messages``), which is what slows the broker down while the database is away.

The fleet announces itself on the retained ``{prefix}/_fleet/status``: online at every connect
(with an ``instance`` new at every start, and the connect's ``ts``), offline on a clean stop
and, by last will, when it dies; nodes resend what awaits an ack as soon as they see it come
back, including after a broker restart that lost what they had sent before the fleet was
subscribed again.

Several ingest workers (``agrifleet fleet ingest``, :mod:`fleet.telemetry.workers`) share the device
traffic through one MQTT shared subscription, ``$share/<group>/<filter>``: the broker hands each
message to one member of the group. Each worker keeps a persistent session under its own client
id, so what a killed worker had taken but not acknowledged waits in its session until it comes
back under the same id (Mosquitto 2 does not hand it to another member); storage is idempotent,
so what a node resends in the meantime is stored once and acknowledged again.
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

import paho.mqtt.client as mqtt
from sqlalchemy import Engine

from agrifleet.contract import (
    MAX_PAYLOAD_BYTES,
    Ack,
    FleetStatus,
    ack_topic,
    fleet_status_topic,
    fleet_subscriptions,
)
from agrifleet.fleet.broker import broker_address, fleet_client
from agrifleet.fleet.metrics import Metrics
from agrifleet.fleet.settings import FleetSettings
from agrifleet.fleet.telemetry.writer import Incoming, Writer

#: ``writer_factory(engine, metrics, prefix, send_ack, release, future_tolerance_s,
#: max_seq_jump)``: the writer class, or one that coordinates with other workers.
WriterFactory = Callable[..., Writer]

log = logging.getLogger(__name__)


class Ingestor:
    """Subscribes to every device's messages and status; owns the MQTT client and the writer."""

    def __init__(
        self,
        settings: FleetSettings,
        engine: Engine,
        metrics: Metrics,
        *,
        client_id: str | None = None,
        share_group: str | None = None,
        writer_factory: WriterFactory = Writer,
    ) -> None:
        self.address = broker_address(settings, "ingestion")
        self.settings = settings
        self.metrics = metrics
        self.prefix = settings.mqtt_prefix
        #: New at every start of the fleet: nodes tell a restarted fleet by it.
        self.instance = secrets.token_hex(8)
        self.inbox: queue.Queue[Incoming] = queue.Queue(maxsize=settings.queue_max_messages)
        #: The session's client id: one per worker, fixed, so a restart finds its session.
        self.client_id = client_id or settings.mqtt_client_id
        #: ``$share/<group>/`` before every device filter when several workers share the load.
        self.share_group = share_group
        self.writer = writer_factory(
            engine, metrics, self.prefix, self._send_ack, self._release,
            settings.future_tolerance_s, settings.max_seq_jump,
        )  # fmt: skip
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._connected = threading.Event()
        self._session = 0  # one more per CONNACK: a PUBACK belongs to the session it came in
        self._fleet_topic = fleet_status_topic(self.prefix)
        self.client = self._make_client()

    def _make_client(self) -> mqtt.Client:
        client = fleet_client(
            self.settings, self.address, self.client_id,
            clean_session=False,  # the broker keeps our QoS 1 messages while we restart
            manual_ack=True,  # PUBACK after commit: see _release
        )  # fmt: skip
        client.will_set(self._fleet_topic, self._fleet_status("offline"), qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        return client

    @property
    def queue_depth(self) -> int:
        return self.inbox.qsize()

    @property
    def connected(self) -> bool:
        """Connected and subscribed to the device topics."""
        return self._connected.is_set()

    @property
    def subscriptions(self) -> list[str]:
        """The filters this ingestor subscribes to (shared ones when it is a worker)."""
        filters = fleet_subscriptions(self.prefix)
        if self.share_group is None:
            return filters
        return [f"$share/{self.share_group}/{topic}" for topic in filters]

    @property
    def writer_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the writer thread and connect (retrying in the background)."""
        self._thread = threading.Thread(
            target=self.writer.run,
            args=(self.inbox, self._stop, self.settings.writer_max_messages),
            name="fleet-writer",
            daemon=True,
        )
        self._thread.start()
        log.info("ingesting from %s (prefix %r, instance %s)", self.address.safe_url(),
                 self.prefix, self.instance)
        self.client.connect_async(
            self.address.host, self.address.port, keepalive=self.settings.mqtt_keepalive_s
        )
        self.client.loop_start()

    def wait_connected(self, timeout: float) -> bool:
        """True once subscribed to the device topics."""
        return self._connected.wait(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop taking messages, store what is queued, say offline, then disconnect."""
        self.client.on_message = None  # what arrives now stays unreleased: delivered next start
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self.client.is_connected():
            info = self.client.publish(self._fleet_topic, self._fleet_status("offline"), qos=1,
                                       retain=True)
            try:
                info.wait_for_publish(5)
            except (RuntimeError, ValueError):
                log.info("offline fleet status not confirmed before disconnecting")
        self.client.disconnect()
        self.client.loop_stop()

    def _fleet_status(self, state: Literal["online", "offline"]) -> bytes:
        ts = datetime.now(UTC) if state == "online" else None  # the will is written in advance
        status = FleetStatus(state=state, instance=self.instance, ts=ts)
        return status.model_dump_json(exclude_none=True).encode()

    # --- paho callbacks (network thread) -------------------------------------------------

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            log.warning("MQTT broker refused the fleet: %s", reason)
            return
        self._session += 1
        client.subscribe([(topic, 1) for topic in self.subscriptions])
        client.publish(self._fleet_topic, self._fleet_status("online"), qos=1, retain=True)
        log.info("connected to the MQTT broker at %s", self.address.safe_url())

    def _on_subscribe(self, _c: Any, _u: Any, _mid: Any, reasons: Any, _p: Any) -> None:
        if any(r.is_failure for r in reasons):
            log.warning("the broker refused a subscription: %s", reasons)
            return
        self._connected.set()

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self._connected.clear()
        if not self._stop.is_set():
            log.info("MQTT connection lost (%s); reconnecting", reason)

    def _on_message(self, client: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        topic = message.topic  # paho decodes the topic at every access
        payload = message.payload
        if topic == self._fleet_topic or len(payload) > MAX_PAYLOAD_BYTES:
            if topic != self._fleet_topic:  # counted here: never hold it in memory longer
                self.writer.refuse_oversized(topic, len(payload))
            # Our own announcement (the status filter has it), or refused: released at once.
            self._release([Incoming(topic, b"", message.mid, message.qos, self._session)])
            return
        # Blocks when the writer is far behind, which slows the broker down instead of
        # growing without bound.
        self.inbox.put(Incoming(topic, bytes(payload), message.mid, message.qos, self._session))

    def publish(self, topic: str, payload: bytes, retain: bool) -> None:
        """Publish with QoS 1 on the fleet's connection (paho queues it while disconnected)."""
        self.client.publish(topic, payload, qos=1, retain=retain)

    # --- writer thread -------------------------------------------------------------------

    def _release(self, messages: list[Incoming]) -> None:
        """PUBACK messages that are stored or refused for good (any thread).

        A message of an earlier session is skipped: the broker delivered it again on the new
        one, under a packet id that only that delivery may acknowledge.
        """
        session = self._session
        for m in messages:
            if m.qos > 0 and m.session == session:
                self.client.ack(m.mid, m.qos)

    def _send_ack(self, device_id: str, ack: Ack) -> None:
        self.client.publish(ack_topic(self.prefix, device_id), ack.model_dump_json(), qos=1)
