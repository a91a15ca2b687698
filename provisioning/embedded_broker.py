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

from amqtt.broker import Broker
from amqtt.contexts import Action
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import Session

from provisioning.acl import Access, allowed

log = logging.getLogger(__name__)


class PasswordAuth(BaseAuthPlugin):
    """Refuses anonymous clients and wrong passwords."""

    @dataclass
    class Config:
        users: dict[str, str] = field(default_factory=dict)

    async def authenticate(self, *, session: Session) -> bool | None:
        expected = self.config.users.get(session.username or "")
        given = session.password or ""
        if isinstance(given, bytes):
            given = given.decode("utf-8", "replace")
        return expected is not None and hmac.compare_digest(expected, given)


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
        self._broker = Broker(self._config, loop=self._loop)
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
