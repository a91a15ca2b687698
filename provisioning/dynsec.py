"""Mosquitto's dynamic security plugin: broker accounts that change while the broker runs.

The fleet creates, disables and deletes one client and one role per device by publishing JSON
commands on ``$CONTROL/dynamic-security/v1`` (:class:`DynsecControl`); the broker answers on
``.../response``. A device's role allows exactly the topics of
:func:`agrifleet.contract.device_topics`; the fleet's role has the whole prefix and the
control topic. Every default access is refused (no anonymous clients either).

:func:`initial_config` writes the plugin's starting file (``dynamic-security.json``) with the
fleet's account, its password hashed the way the plugin hashes it (PBKDF2-HMAC-SHA512, base64);
:class:`DynsecConfig` writes ``mosquitto.conf`` around it and :class:`DynsecBroker` runs it.
"""

from __future__ import annotations

import base64
import glob
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agrifleet.contract import FLEET_USER, device_client_id, device_topics, prefix_filter
from agrifleet.provisioning.mosquitto import MosquittoProcess, size_limit_lines
from agrifleet.provisioning.private_files import write_private
from agrifleet.provisioning.tls import TlsFiles

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = CONTROL_TOPIC + "/response"
FLEET_ROLE = "agrifleet-fleet"
#: Iterations of the fleet's password hash in the initial file (the plugin's own are 101).
HASH_ITERATIONS = 10_000

_PLUGIN_GLOBS = (
    "/usr/lib/*/mosquitto_dynamic_security.so",
    "/usr/lib/mosquitto_dynamic_security.so",
    "/usr/local/lib/mosquitto_dynamic_security.so",
    "/usr/lib/*/mosquitto/mosquitto_dynamic_security.so",
)


def find_plugin() -> Path | None:
    """Where the Mosquitto package put ``mosquitto_dynamic_security.so``, or None."""
    for pattern in _PLUGIN_GLOBS:
        for path in sorted(glob.glob(pattern)):
            return Path(path)
    return None


def device_role(device_id: str) -> str:
    """The name of the one role a device's client has."""
    return f"agrifleet-device-{device_id}"


def device_acls(prefix: str, device_id: str) -> list[dict[str, Any]]:
    """The role's ACLs, derived from the contract's topics of this device and nothing else."""
    acls: list[dict[str, Any]] = []
    for access, topic in device_topics(prefix, device_id):
        if access == "write":
            acls.append(_acl("publishClientSend", topic))
        else:
            acls += [_acl("subscribePattern", topic), _acl("publishClientReceive", topic),
                     _acl("unsubscribePattern", topic)]
    return acls


def fleet_acls(prefix: str) -> list[dict[str, Any]]:
    """The fleet reads and writes the prefix and commands the plugin; no other topic."""
    everything = prefix_filter(prefix)
    control = "$CONTROL/dynamic-security/#"
    return [
        _acl(kind, topic)
        for topic in (everything, control)
        for kind in ("publishClientSend", "publishClientReceive", "subscribePattern",
                     "unsubscribePattern")
    ]


def _acl(kind: str, topic: str) -> dict[str, Any]:
    return {"acltype": kind, "topic": topic, "priority": 0, "allow": True}


def hash_password(password: str, *, salt: bytes | None = None,
                  iterations: int = HASH_ITERATIONS) -> dict[str, Any]:
    """``password``/``salt``/``iterations`` as the plugin stores them (PBKDF2-HMAC-SHA512)."""
    salt = salt if salt is not None else secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, 64)
    return {"password": base64.b64encode(digest).decode(),
            "salt": base64.b64encode(salt).decode(), "iterations": iterations}


def initial_config(fleet_password: str, prefix: str,
                   fleet_user: str = FLEET_USER) -> dict[str, Any]:
    """The plugin's starting file: the fleet's client and role, every default refused."""
    return {
        "clients": [{"username": fleet_user, "textName": "agrifleet fleet service",
                     **hash_password(fleet_password), "roles": [{"rolename": FLEET_ROLE}]}],
        "groups": [],
        "roles": [{"rolename": FLEET_ROLE, "acls": fleet_acls(prefix)}],
        "defaultACLAccess": {"publishClientSend": False, "publishClientReceive": False,
                             "subscribe": False, "unsubscribe": False},
    }


@dataclass
class DynsecConfig:
    """``mosquitto.conf`` and ``dynamic-security.json`` for a broker whose accounts follow the
    fleet; the JSON file is written once and then owned by the plugin (it saves every change)."""

    directory: Path
    port: int
    fleet_password: str
    prefix: str = "agrifleet"
    bind: str = "127.0.0.1"
    tls: TlsFiles | None = None
    plugin: Path | None = None
    persistence: bool = True
    #: Set to run Mosquitto as root (tests); a service runs it as its own user.
    as_root: bool = False
    #: Where the plugin's file and the persistence file live (Mosquitto writes both); default:
    #: ``directory``.
    data_dir: Path | None = None

    @property
    def conf_path(self) -> Path:
        return self.directory / "mosquitto.conf"

    @property
    def state_dir(self) -> Path:
        return self.data_dir or self.directory

    @property
    def dynsec_path(self) -> Path:
        return self.state_dir / "dynamic-security.json"

    def conf_text(self) -> str:
        plugin = self.plugin or find_plugin()
        if plugin is None:
            raise RuntimeError("mosquitto_dynamic_security.so not found: install Mosquitto 2 "
                               "(apt-get install mosquitto)")
        lines = [
            "# written by `agrifleet provision broker`: accounts live in the dynamic security",
            "# plugin's file below and change through $CONTROL/dynamic-security/v1",
            "per_listener_settings false",
            "allow_anonymous false",
            f"plugin {plugin}",
            f"plugin_opt_config_file {self.dynsec_path}",
            f"persistence {'true' if self.persistence else 'false'}",
        ]
        if self.persistence:
            lines.append(f"persistence_location {self.state_dir}/")
        lines += ["max_inflight_messages 100", "max_queued_messages 100000",
                  *size_limit_lines(), "log_dest stderr", "log_type error",
                  "log_type warning", "log_type notice"]
        if self.as_root:
            lines.append("user root")
        lines.append(f"listener {self.port} {self.bind}")
        if self.tls is not None:
            lines += [f"cafile {self.tls.ca_file}", f"certfile {self.tls.cert_file}",
                      f"keyfile {self.tls.key_file}", "tls_version tlsv1.2"]
        return "\n".join(lines) + "\n"

    def write(self, *, keep_accounts: bool = True) -> Path:
        """Write the conf; the accounts file only when absent (or ``keep_accounts=False``)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.conf_path.write_text(self.conf_text())
        if not keep_accounts or not self.dynsec_path.exists():
            write_private(self.dynsec_path,
                          json.dumps(initial_config(self.fleet_password, self.prefix), indent=1))
        return self.conf_path


class DynsecBroker(MosquittoProcess):
    """A Mosquitto process with the dynamic security plugin (tests, a local install)."""

    config: DynsecConfig

    def __init__(self, config: DynsecConfig) -> None:
        super().__init__(config)
        self.config = config

    @property
    def fleet_url(self) -> str:
        scheme = "mqtts" if self.config.tls else "mqtt"
        return f"{scheme}://{FLEET_USER}:{self.config.fleet_password}@127.0.0.1:{self.port}"


class DynsecError(RuntimeError):
    """The broker refused a command, or did not answer."""


class DynsecControl:
    """Sends commands to the plugin over one MQTT connection as the fleet, and waits for the
    answers. ``connect`` takes a configured (not yet connected) paho client."""

    def __init__(self, client: Any, host: str, port: int, timeout: float = 5.0) -> None:
        self.client = client
        self.host = host
        self.port = port
        self.timeout = timeout
        self._answers: dict[str, dict[str, Any]] = {}
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        self._refused: str | None = None

    def __enter__(self) -> DynsecControl:
        self.client.on_message = self._on_message
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        try:
            self.client.connect(self.host, self.port, keepalive=30)
        except OSError as exc:
            raise DynsecError(f"cannot reach the broker at {self.host}:{self.port}: "
                              f"{exc.strerror or exc}") from None
        self.client.loop_start()
        if not self._subscribed.wait(self.timeout):
            self.__exit__()
            raise DynsecError(self._refused or f"the broker at {self.host}:{self.port} did "
                              f"not let the fleet subscribe to {RESPONSE_TOPIC} within "
                              f"{self.timeout:g} s")
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            self._refused = f"the broker refused the fleet's account: {reason}"
            return
        client.subscribe(RESPONSE_TOPIC, qos=1)

    def _on_message(self, _c: Any, _u: Any, message: Any) -> None:
        try:
            answers = json.loads(message.payload).get("responses", [])
        except (ValueError, AttributeError):
            return
        with self._cond:
            for answer in answers:
                if isinstance(answer, dict) and "correlationData" in answer:
                    self._answers[str(answer["correlationData"])] = answer
            self._cond.notify_all()

    def run(self, *commands: dict[str, Any], ignore: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """Send the commands in one message; raises DynsecError for the first one refused
        (unless its error text contains one of ``ignore``, e.g. "not found")."""
        tagged = [{**c, "correlationData": secrets.token_hex(8)} for c in commands]
        self.client.publish(CONTROL_TOPIC, json.dumps({"commands": tagged}), qos=1)
        deadline = time.monotonic() + self.timeout
        keys = [c["correlationData"] for c in tagged]
        with self._cond:
            while not all(k in self._answers for k in keys):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise DynsecError(
                        "the broker did not answer the dynamic security command "
                        f"{commands[0]['command']!r} within {self.timeout:g} s (is "
                        "mosquitto_dynamic_security.so loaded? see docs/provisioning.md)")
                self._cond.wait(left)
            answers = [self._answers.pop(k) for k in keys]
        for command, answer in zip(commands, answers, strict=True):
            error = answer.get("error")
            if error and not any(text in str(error) for text in ignore):
                raise DynsecError(f"the broker refused {command['command']}: {error}")
        return answers

    # --- what the fleet does to a device's account ---------------------------------------

    def create_device(self, prefix: str, device_id: str, password: str) -> None:
        """A fresh client and role for the device (an old one of the same name is deleted).

        The client is pinned to the device's one client id: the broker refuses the account's
        password with any other, so a device cannot take over the fleet's or another device's
        session (connecting with a client id in use disconnects its holder)."""
        self.delete_device(device_id)
        role = device_role(device_id)
        self.run({"command": "createRole", "rolename": role,
                  "acls": device_acls(prefix, device_id)},
                 {"command": "createClient", "username": device_id, "password": password,
                  "clientid": device_client_id(device_id),
                  "roles": [{"rolename": role}]})  # one message: the plugin runs them in order

    def pin_client_ids(self) -> list[str]:
        """Pin every device account made before client ids were pinned to its device's client
        id (the fleet's own account stays free); returns the usernames changed."""
        answer = self.run({"command": "listClients", "verbose": True, "count": -1,
                           "offset": 0})[0]
        changed: list[str] = []
        for client in answer.get("data", {}).get("clients", []):
            user = client.get("username") if isinstance(client, dict) else None
            if not user or user == FLEET_USER or client.get("clientid"):
                continue
            self.run({"command": "modifyClient", "username": user,
                      "clientid": device_client_id(user)})
            changed.append(user)
        return changed

    def disable_device(self, device_id: str) -> None:
        """Refuse the device's logins and close its open session; the account stays."""
        self.run({"command": "disableClient", "username": device_id}, ignore=("not found",))

    def delete_device(self, device_id: str) -> None:
        """Delete the client (closing its session) and its role; nothing there is fine."""
        self.run({"command": "deleteClient", "username": device_id},
                 {"command": "deleteRole", "rolename": device_role(device_id)},
                 ignore=("not found",))

    def client_names(self) -> list[str]:
        """Every client the plugin knows (for checks and tests)."""
        answer = self.run({"command": "listClients", "verbose": False, "count": -1,
                           "offset": 0})[0]
        return list(answer.get("data", {}).get("clients", []))
