"""The node's MQTT link: one paho session at a time, QoS 1, retained status and last will.

Each connection gets a fresh paho client, so nothing paho queued for a dead session is sent
again behind the outbox's back; the forwarder resends what was not acknowledged. Reconnects use
jittered exponential back-off. Messages from the fleet are dispatched by topic: acknowledgements
on ``{prefix}/{device}/ack`` go to ``on_ack``; any other topic to the handler registered for it
(``handlers``, topic → callable taking the payload), each subscribed at every connect.

The link also follows the fleet's retained status (``{prefix}/_fleet/status``): when the fleet's
ingestion comes back (online after offline, or online as a new instance or from a new connect,
which carries a new ``ts``: after a broker restart the fleet may resubscribe after us) it calls
``on_fleet_back``, so the forwarder resends what waits for an ack at once instead of after
``ack_timeout_s``; when it goes offline, ``on_fleet_away``.
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from pydantic import ValidationError

from agrifleet.contract import (
    Ack,
    FleetStatus,
    ack_topic,
    device_client_id,
    fleet_status_topic,
    messages_topic,
    status_topic,
)
from agrifleet.edge.backoff import Backoff
from agrifleet.mqtt import BrokerAddress, configure_client, parse_mqtt_url

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LinkSettings:
    """Where and how to connect; built from the agent config."""

    host: str
    port: int
    device_id: str
    username: str
    password: str | None
    prefix: str
    keepalive_s: int = 30
    tls: bool = False
    ca_file: Path | None = None
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 120.0

    @classmethod
    def from_url(cls, url: str, **kwargs: object) -> LinkSettings:
        """Host, port and TLS from an mqtt:// or mqtts:// URL; the rest from keyword arguments."""
        ca_file = kwargs.get("ca_file")
        address = parse_mqtt_url(url, ca_file=ca_file if isinstance(ca_file, Path) else None)
        return cls(host=address.host, port=address.port, tls=address.tls,
                   **kwargs)  # type: ignore[arg-type]

    @property
    def address(self) -> BrokerAddress:
        return BrokerAddress(host=self.host, port=self.port, tls=self.tls,
                             username=self.username, password=self.password)

    def safe_url(self) -> str:
        """The broker address for logs, never with the password."""
        return self.address.safe_url()


class Link:
    """Keeps a session to the broker; call :meth:`start`, :meth:`publish_batch`, :meth:`stop`."""

    def __init__(
        self,
        settings: LinkSettings,
        *,
        status: Callable[[str], bytes],
        on_ack: Callable[[Ack], None],
        on_connected: Callable[[], None] = lambda: None,
        on_disconnected: Callable[[], None] = lambda: None,
        handlers: Mapping[str, Callable[[bytes], None]] | None = None,
        on_fleet_back: Callable[[FleetStatus], None] = lambda status: None,
        on_fleet_away: Callable[[FleetStatus], None] = lambda status: None,
    ) -> None:
        self.settings = settings
        self._status = status
        self._on_ack = on_ack
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self._status_topic = status_topic(settings.prefix, settings.device_id)
        self._messages_topic = messages_topic(settings.prefix, settings.device_id)
        self._ack_topic = ack_topic(settings.prefix, settings.device_id)
        self._on_fleet_back = on_fleet_back
        self._on_fleet_away = on_fleet_away
        self._handlers: dict[str, Callable[[bytes], None]] = {
            self._ack_topic: self._take_ack,
            fleet_status_topic(settings.prefix): self._take_fleet_status,
        }
        self._handlers.update(handlers or {})
        #: The fleet's last status seen (kept across sessions, to notice a restart meanwhile).
        self.fleet: FleetStatus | None = None
        self.fleet_returns = 0
        self._client: mqtt.Client | None = None
        self._connected = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._backoff = Backoff(settings.reconnect_min_s, settings.reconnect_max_s)
        self.connects = 0

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="mqtt-link", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Publish the offline status, disconnect cleanly (no last will) and end the thread."""
        with self._lock:
            client = self._client if self.connected else None
        if client is not None:
            info = client.publish(self._status_topic, self._status("offline"), qos=1, retain=True)
            try:
                info.wait_for_publish(timeout)
            except (RuntimeError, ValueError):
                log.info("offline status not confirmed before disconnecting")
            client.disconnect()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout + 2)

    def publish_batch(self, payload: bytes) -> bool:
        """Hand one Batch to the broker (QoS 1); False when there is no session."""
        return self._publish(self._messages_topic, payload, retain=False)

    def publish_status(self) -> bool:
        """Publish the retained online Status with fresh health."""
        return self._publish(self._status_topic, self._status("online"), retain=True)

    def _publish(self, topic: str, payload: bytes, *, retain: bool) -> bool:
        with self._lock:
            client = self._client if self.connected else None
        if client is None:
            return False
        info = client.publish(topic, payload, qos=1, retain=retain)
        return info.rc == mqtt.MQTT_ERR_SUCCESS

    # -- the network thread -----------------------------------------------------------------

    def _new_client(self, session_over: threading.Event) -> mqtt.Client:
        s = self.settings
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=device_client_id(s.device_id),  # the only one its account may use
            clean_session=True,
            protocol=mqtt.MQTTv311,
            userdata=session_over,
            reconnect_on_failure=False,  # we reconnect, with a fresh client and jitter
        )
        configure_client(client, s.address, s.ca_file)
        client.will_set(self._status_topic, self._status("offline"), qos=1, retain=True)
        client.on_connect = self._handle_connect
        client.on_disconnect = self._handle_disconnect
        client.on_message = self._handle_message
        return client

    def _run(self) -> None:
        """One session per iteration: connect, let paho's thread serve it, back off, again."""
        log.info("connecting to %s", self.settings.safe_url())
        while not self._stop.is_set():
            session_over = threading.Event()
            client = self._new_client(session_over)
            try:
                client.connect(self.settings.host, self.settings.port, self.settings.keepalive_s)
            except (OSError, ValueError) as exc:
                delay = self._backoff.next()
                if isinstance(exc, ssl.SSLCertVerificationError):  # a setup fault or an impostor
                    log.warning("broker %s is not trusted (%s): check [mqtt] ca_file and the "
                                "host name in url; retrying in %.1f s",
                                self.settings.safe_url(), exc.verify_message, delay)
                else:
                    log.info("broker %s unreachable (%s); retrying in %.1f s",
                             self.settings.safe_url(), exc, delay)
                self._stop.wait(delay)
                continue
            with self._lock:
                self._client = client
            client.loop_start()  # paho's network thread; publish() from others is safe
            while not session_over.wait(0.2):
                thread = getattr(client, "_thread", None)
                if self._stop.is_set():
                    client.disconnect()  # stop() came while the session was being set up
                if thread is None or not thread.is_alive():
                    break
            client.loop_stop()
            self._session_ended()
            if not self._stop.is_set():
                delay = self._backoff.next()
                log.info("reconnecting in %.1f s", delay)
                self._stop.wait(delay)
        self._session_ended()

    def _session_ended(self) -> None:
        with self._lock:
            was_connected = self._connected.is_set()
            self._connected.clear()
            self._client = None
        if was_connected:
            self._on_disconnected()

    def _handle_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason_code: mqtt.ReasonCode,
        properties: mqtt.Properties | None,
    ) -> None:
        if reason_code.is_failure:
            # Wrong credentials or not authorised: a configuration problem worth a warning.
            log.warning("broker %s refused the connection: %s", self.settings.safe_url(),
                        reason_code)
            client.disconnect()
            return
        self._backoff.reset()
        self.connects += 1
        client.subscribe([(topic, 1) for topic in self._handlers])
        client.publish(self._status_topic, self._status("online"), qos=1, retain=True)
        self._connected.set()
        log.info("connected to %s", self.settings.safe_url())
        self._on_connected()

    def _handle_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason_code: mqtt.ReasonCode,
        properties: mqtt.Properties | None,
    ) -> None:
        if not self._stop.is_set():
            log.info("connection to broker lost (%s)", reason_code)
        self._session_ended()
        if isinstance(userdata, threading.Event):
            userdata.set()

    def _handle_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        handler = self._handlers.get(msg.topic)
        if handler is None:
            return
        try:
            handler(bytes(msg.payload))
        except Exception:
            log.exception("handling a message on %s failed", msg.topic)

    def _take_ack(self, payload: bytes) -> None:
        try:
            ack = Ack.model_validate_json(payload)
        except ValidationError as exc:
            log.warning("ignoring a malformed ack (%d bytes): %s", len(payload),
                        exc.errors()[0]["msg"])
            return
        self._on_ack(ack)

    def _take_fleet_status(self, payload: bytes) -> None:
        if not payload:
            return  # the retained status was cleared
        try:
            status = FleetStatus.model_validate_json(payload)
        except ValidationError as exc:
            log.warning("ignoring a malformed fleet status (%d bytes): %s", len(payload),
                        exc.errors()[0]["msg"])
            return
        last, self.fleet = self.fleet, status
        if status.state == "offline":
            if last is None or last.state == "online":
                log.info("the fleet's ingestion is offline (instance %s)", status.instance)
                self._on_fleet_away(status)
            return
        if last is None or (last.state == "online" and last.instance == status.instance
                            and last.ts == status.ts):
            return  # first sight, or the same announcement again (our reconnect, a repeat)
        self.fleet_returns += 1
        log.info("the fleet's ingestion is back (instance %s): resending what awaits an ack",
                 status.instance)
        self._on_fleet_back(status)
