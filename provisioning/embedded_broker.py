"""A pure-Python MQTT broker (amqtt) for machines without Mosquitto: same users, same ACLs.

Only the zero-install default for ``agrifleet demo``; a real deployment runs Mosquitto with
the configuration from :mod:`provisioning.mosquitto`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from amqtt.adapters import ReaderAdapter, WriterAdapter
from amqtt.broker import Broker
from amqtt.contexts import Action
from amqtt.errors import MQTTError
from amqtt.mqtt.connack import NOT_AUTHORIZED, ConnackPacket
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import Session
from amqtt.utils import gen_client_id

from agrifleet.contract import FLEET_USER, device_client_id, is_device_client_id
from agrifleet.provisioning.acl import Access, allowed
from agrifleet.provisioning.mosquitto import MESSAGE_SIZE_LIMIT

log = logging.getLogger(__name__)


class PasswordAuth(BaseAuthPlugin):
    """Refuses anonymous clients, wrong passwords and a client id that is not the user's.

    A device connects only as ``agrifleet-<its id>`` and the fleet never as a device's id, so
    no account can take over (and so disconnect) another account's session."""

    @dataclass
    class Config:
        users: dict[str, str] = field(default_factory=dict)

    async def authenticate(self, *, session: Session) -> bool | None:
        user = session.username or ""
        expected = self.config.users.get(user)
        given = session.password or ""
        if isinstance(given, bytes):
            given = given.decode("utf-8", "replace")
        if expected is None or not hmac.compare_digest(expected, given):
            return False
        if not client_id_belongs_to(user, session.client_id or ""):
            log.warning("refused %s: client id %r is not its own", user, session.client_id)
            return False
        return True


def client_id_belongs_to(user: str, client_id: str) -> bool:
    """A device's account owns exactly its device's client id; the fleet's any other."""
    if user == FLEET_USER:
        return not is_device_client_id(client_id)
    return client_id == device_client_id(user)


class DeviceAcl(BaseTopicPlugin):
    """A device may only write its own status/messages and read its own acks and offers."""

    @dataclass
    class Config:
        prefix: str = "agrifleet"

    async def topic_filtering(
        self,
        *,
        session: Session | None = None,
        topic: str | None = None,
        action: Action | None = None,
    ) -> bool | None:
        if session is None or topic is None or not session.username:
            return False
        access: Access = "write" if action == Action.PUBLISH else "read"
        return allowed(session.username, self.config.prefix, access, topic)


class _CheckedBroker(Broker):
    """amqtt checks a CONNECT's credentials only after it has ended (clean session) or taken
    over the session of the client id it names, so any password, even a wrong one, could
    disconnect the fleet. This broker checks them first and closes a refused connection
    before it touches a session; it also drops a publish over Mosquitto's
    ``message_size_limit`` (:data:`provisioning.mosquitto.MESSAGE_SIZE_LIMIT`)."""

    async def _initialize_client_session(
        self, reader: ReaderAdapter, writer: WriterAdapter, remote_address: str,
        remote_port: int,
    ) -> tuple[BrokerProtocolHandler, Session]:
        handler, incoming = await _read_connect(reader, writer, self)
        if not await self._authenticate(incoming, self.listeners_config["default"]):
            await ConnackPacket.build(0, NOT_AUTHORIZED).to_stream(writer)
            await writer.close()
            raise MQTTError(f"refused {incoming.username!r} as {incoming.client_id!r} from "
                            f"{remote_address}:{remote_port}")
        # The credentials hold: a second read of the same CONNECT is not possible, so the
        # session bookkeeping of amqtt's own method follows here.
        if incoming.clean_session:
            await self._delete_session(incoming.client_id)
            incoming.parent = 0
        elif incoming.client_id in self._sessions:
            existing, _ = self._sessions[incoming.client_id]
            for name in ("will_flag", "will_message", "will_topic", "will_qos", "keep_alive",
                         "username", "password"):
                setattr(existing, name, getattr(incoming, name))
            incoming, incoming.parent = existing, 1
        else:
            incoming.parent = 0
        return handler, incoming

    async def _broadcast_message(self, session: Session | None, topic: str | None,
                                 data: bytes | bytearray | None,
                                 force_qos: int | None = None) -> None:
        if data is not None and len(data) > MESSAGE_SIZE_LIMIT:
            log.warning("dropped a %d-byte message on %s: over %d bytes", len(data), topic,
                        MESSAGE_SIZE_LIMIT)
            return
        await super()._broadcast_message(session, topic, data, force_qos)

    async def retain_message(self, source_session: Session | None, topic_name: str | None,
                             data: bytes | bytearray | None, qos: int | None = None) -> None:
        if data is not None and len(data) > MESSAGE_SIZE_LIMIT:
            return
        await super().retain_message(source_session, topic_name, data, qos)


async def _read_connect(reader: ReaderAdapter, writer: WriterAdapter,
                        broker: Broker) -> tuple[BrokerProtocolHandler, Session]:
    """The CONNECT as amqtt reads it (a malformed one raises what amqtt's broker handles)."""
    try:
        handler, session = await BrokerProtocolHandler.init_from_connect(
            reader, writer, broker.plugins_manager)
    except MQTTError:
        await writer.close()
        raise
    if not session.client_id:  # amqtt gives a clean session without one a random id
        session.client_id = gen_client_id()
    return handler, session


class EmbeddedBroker:
    """Runs an amqtt broker on its own event loop thread."""

    def __init__(self, port: int, users: dict[str, str], prefix: str = "agrifleet") -> None:
        self.port = port
        self._config: dict[str, Any] = {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
            "plugins": {
                f"{__name__}.PasswordAuth": {"users": dict(users)},
                f"{__name__}.DeviceAcl": {"prefix": prefix},
            },
        }
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._broker: Broker | None = None

    def start(self) -> None:
        self._thread.start()
        self._broker = _CheckedBroker(self._config, loop=self._loop)
        asyncio.run_coroutine_threadsafe(self._broker.start(), self._loop).result(10)
        log.info("embedded MQTT broker listening on 127.0.0.1:%d", self.port)

    def stop(self) -> None:
        if self._broker is not None:
            broker, self._broker = self._broker, None
            logging.getLogger("amqtt").setLevel(logging.CRITICAL)  # its shutdown is noisy
            future = asyncio.run_coroutine_threadsafe(self._shutdown(broker), self._loop)
            future.result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    @staticmethod
    async def _shutdown(broker: Broker) -> None:
        # amqtt's broadcast loop can outlive its clients; what is left is cancelled below.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(broker.shutdown(), timeout=2)
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
