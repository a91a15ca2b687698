"""Real services the tests start for themselves: Mosquitto on a free port, with passwords and ACLs.

Nothing here depends on a broker or database left running on the machine.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from provisioning.acl import FLEET_USER
from provisioning.mosquitto import MosquittoBroker, MosquittoConfig, free_port, wait_for_port

__all__ = ["Broker", "free_port", "running_mosquitto", "wait_for_port"]


class Broker(MosquittoBroker):
    """A running Mosquitto; ``add_device`` creates a least-privilege user for a device id."""

    @property
    def fleet_url(self) -> str:
        return self.url_for(FLEET_USER)

    def add_device(self, device_id: str) -> str:
        """Create (or keep) the device's credentials; returns its MQTT URL."""
        self.add_user(device_id)
        return self.url_for(device_id)


@contextmanager
def running_mosquitto(directory: Path, prefix: str = "agrifleet") -> Iterator[Broker]:
    config = MosquittoConfig(
        directory=directory,
        port=free_port(),
        prefix=prefix,
        users={FLEET_USER: secrets.token_hex(12)},
    )
    broker = Broker(config)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
