"""Mosquitto configuration with no anonymous access and least privilege per device.

A device's MQTT user name is its device id; the ACL lets it write only its own status and
messages topics and read only its own acknowledgements and model offers. The fleet's user reads
and writes the whole prefix.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from provisioning.acl import FLEET_USER, device_acl


def acl_text(prefix: str, fleet_user: str = FLEET_USER) -> str:
    lines = [f"user {fleet_user}", f"topic readwrite {prefix}/#", ""]
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
                    "log_dest stderr",
                    "log_type error",
                    "log_type warning",
                    # Mosquitto started as root would switch to a user that cannot read the
                    # files above; the service unit runs it as its own user instead.
                    "user root",
                    f"listener {self.port} {self.bind}",
                    "",
                ]
            )
        )
        return self.conf_path

    def write_passwords(self) -> None:
        tool = shutil.which("mosquitto_passwd")
        if tool is None:
            raise RuntimeError("mosquitto_passwd not found: install the mosquitto package")
        self.passwd_path.write_text("")
        self.passwd_path.chmod(0o600)
        for user, password in self.users.items():
            subprocess.run([tool, "-b", str(self.passwd_path), user, password], check=True)
