"""Real services the tests start for themselves: Mosquitto on a free port, with passwords and ACLs.

Nothing here depends on a broker or database left running on the machine.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from provisioning.mosquitto import FLEET_USER, MosquittoConfig


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


@dataclass
class Broker:
    """A running Mosquitto; ``add_device`` creates a least-privilege user for a device id."""

    config: MosquittoConfig
    process: subprocess.Popen[bytes] | None = None
    passwords: dict[str, str] = field(default_factory=dict)

    @property
    def port(self) -> int:
        return self.config.port

    @property
    def fleet_url(self) -> str:
        return self.url_for(FLEET_USER)

    def url_for(self, user: str) -> str:
        return f"mqtt://{user}:{self.config.users[user]}@127.0.0.1:{self.port}"

    def add_device(self, device_id: str) -> str:
        """Create (or keep) the device's credentials; returns its MQTT URL."""
        if device_id not in self.config.users:
            self.config.users[device_id] = secrets.token_hex(12)
            self.config.write_passwords()
            if self.process is not None:
                self.process.send_signal(signal.SIGHUP)  # reload passwords
                time.sleep(0.2)
        return self.url_for(device_id)

    def start(self) -> None:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not os.path.exists(exe):
            raise RuntimeError("mosquitto is not installed (apt-get install mosquitto)")
        conf = self.config.write()
        self.process = subprocess.Popen(
            [exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


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
