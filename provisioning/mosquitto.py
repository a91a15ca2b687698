"""Mosquitto configuration with no anonymous access and least privilege per device.

A device's MQTT user name is its device id; the ACL lets it write only its own status and
messages topics and read only its own acknowledgements and model offers, and the fleet's status.
The fleet's user reads and writes the whole prefix.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from agrifleet.contract import MAX_PAYLOAD_BYTES
from agrifleet.provisioning.acl import FLEET_USER, device_acl, fleet_acl
from agrifleet.provisioning.tls import TlsFiles

#: The broker drops a publish whose payload the fleet would refuse anyway.
MESSAGE_SIZE_LIMIT = MAX_PAYLOAD_BYTES
#: And disconnects a client sending a packet bigger than that payload with the longest topic
#: MQTT allows (65,535 bytes) and its headers, before holding it in memory.
MAX_PACKET_SIZE = MAX_PAYLOAD_BYTES + 65_535 + 1024


def size_limit_lines() -> list[str]:
    """The Mosquitto lines that bound what one publish may carry."""
    return [f"message_size_limit {MESSAGE_SIZE_LIMIT}", f"max_packet_size {MAX_PACKET_SIZE}"]


def acl_text(prefix: str, fleet_user: str = FLEET_USER) -> str:
    lines = [f"user {fleet_user}", f"topic readwrite {fleet_acl(prefix)}", ""]
    lines.append("# every other user is a device whose user name is its device id")
    lines += [f"pattern {access} {pattern}" for access, pattern in device_acl(prefix, "%u")]
    return "\n".join(lines) + "\n"


@dataclass
class MosquittoConfig:
    """Files for one Mosquitto listener, written under ``directory``."""

    directory: Path
    port: int
    prefix: str = "agrifleet"
    bind: str = "127.0.0.1"
    users: dict[str, str] = field(default_factory=dict)
    #: Serve MQTT over TLS (1.2 or newer) with these files instead of plain MQTT.
    tls: TlsFiles | None = None

    @property
    def conf_path(self) -> Path:
        return self.directory / "mosquitto.conf"

    @property
    def passwd_path(self) -> Path:
        return self.directory / "passwd"

    @property
    def acl_path(self) -> Path:
        return self.directory / "acl"

    def write(self) -> Path:
        """Write conf, ACL and password file; returns the conf path."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.acl_path.write_text(acl_text(self.prefix))
        self.write_passwords()
        self.conf_path.write_text(
            "\n".join(
                [
                    "per_listener_settings false",
                    "allow_anonymous false",
                    f"password_file {self.passwd_path}",
                    f"acl_file {self.acl_path}",
                    "persistence false",
                    "max_inflight_messages 100",
                    "max_queued_messages 100000",
                    *size_limit_lines(),
                    "log_dest stderr",
                    "log_type error",
                    "log_type warning",
                    # Mosquitto started as root would switch to a user that cannot read the
                    # files above; the service unit runs it as its own user instead.
                    "user root",
                    f"listener {self.port} {self.bind}",
                    *self._tls_lines(),
                    "",
                ]
            )
        )
        return self.conf_path

    def _tls_lines(self) -> list[str]:
        if self.tls is None:
            return []
        return [f"cafile {self.tls.ca_file}", f"certfile {self.tls.cert_file}",
                f"keyfile {self.tls.key_file}", "tls_version tlsv1.2"]

    def write_passwords(self) -> None:
        tool = shutil.which("mosquitto_passwd")
        if tool is None:
            raise RuntimeError("mosquitto_passwd not found: install the mosquitto package")
        self.passwd_path.write_text("")
        self.passwd_path.chmod(0o600)
        for user, password in self.users.items():
            subprocess.run([tool, "-b", str(self.passwd_path), user, password], check=True)


def find_mosquitto() -> str | None:
    """The mosquitto executable, or None when it is not installed."""
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    return exe if os.access(exe, os.X_OK) else None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
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


class BrokerConfig(Protocol):
    """What a Mosquitto process needs of its configuration."""

    port: int

    def write(self) -> Path:
        """Write the conf file (and what it names); return its path."""
        ...


class MosquittoProcess:
    """A Mosquitto process run from a :class:`BrokerConfig`: started, waited for, stopped
    (terminate, then kill after 5 s)."""

    def __init__(self, config: BrokerConfig) -> None:
        self.config = config
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def port(self) -> int:
        return self.config.port

    def start(self) -> None:
        exe = find_mosquitto()
        if exe is None:
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


class MosquittoBroker(MosquittoProcess):
    """A Mosquitto process run from a :class:`MosquittoConfig` (a password file and ACLs);
    users can be added live."""

    config: MosquittoConfig

    def __init__(self, config: MosquittoConfig) -> None:
        super().__init__(config)
        self.config = config

    def add_user(self, user: str, password: str | None = None) -> str:
        """Create (or keep) a user; returns its password. Mosquitto reloads on SIGHUP."""
        if user not in self.config.users:
            self.config.users[user] = password or secrets.token_urlsafe(18)
            self.config.write_passwords()
            if self.process is not None:
                self.process.send_signal(signal.SIGHUP)
                time.sleep(0.2)
        return self.config.users[user]

    def url_for(self, user: str) -> str:
        scheme = "mqtts" if self.config.tls else "mqtt"
        return f"{scheme}://{user}:{self.config.users[user]}@127.0.0.1:{self.port}"

