"""``agrifleet edge enroll``: a node in its box becomes a device of the fleet with one code.

The node makes its own secrets (:mod:`secrets`): a broker password, sent once to the fleet
over its HTTPS API and handed by the fleet to the broker (which keeps only a hash), and a device
API credential of which only the SHA-256 leaves the node. The fleet answers with the device id,
the broker's address, its CA certificate and the keys that sign model packages; this module
writes the agent config (the TOML :mod:`edge.config` loads), the secrets, the CA and the keys,
every secret 0600. The call goes through :mod:`agrifleet.http`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from agrifleet import http

DEFAULT_CONFIG = Path("/etc/agrifleet/agent.toml")
DEFAULT_DATA_DIR = Path("/var/lib/agrifleet")
TIMEOUT_S = 30.0

__all__ = ["EnrollError", "Enrolled", "enroll"]


class EnrollError(RuntimeError):
    """Enrolment failed; the message says why and what to do. Nothing was written."""


@dataclass(frozen=True)
class Enrolled:
    """What ``enroll`` wrote."""

    device_id: str
    config: Path
    files: tuple[Path, ...]
    warnings: tuple[str, ...]


def _toml(value: object) -> str:
    """A TOML value: JSON's string escapes are TOML basic strings' escapes."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | Path):
        return json.dumps(str(value))
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


def config_text(device_id: str, data_dir: Path, mqtt: dict[str, Any],
                trusted_keys: list[Path]) -> str:
    lines = ["# written by `agrifleet edge enroll`; add [[sensors]] and [[cameras]] below",
             f"device_id = {_toml(device_id)}", f"data_dir = {_toml(data_dir)}", "", "[mqtt]"]
    lines += [f"{key} = {_toml(value)}" for key, value in mqtt.items()]
    if trusted_keys:
        lines += ["", "[updates]", f"trusted_keys = {_toml([str(p) for p in trusted_keys])}"]
    return "\n".join(lines) + "\n"


def _write(path: Path, text: str, mode: int) -> None:
    """Replace ``path`` with ``text``; the file has ``mode`` from its first byte."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, mode)  # whatever the umask
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _post(url: str, body: dict[str, Any], ca_file: Path | None) -> dict[str, Any]:
    try:
        with http.client(timeout_s=TIMEOUT_S, ca_file=ca_file) as client:
            response = http.call(client, "POST", url, json=body,
                                 headers={"Accept": "application/json"})
    except http.HttpError as exc:
        if exc.status is not None:
            raise EnrollError(_refusal(exc.status, exc.detail)) from None
        if exc.untrusted:
            raise EnrollError(f"the fleet at {url} has a certificate this node does not trust "
                              f"({exc.reason}); give its CA with --ca-file") from None
        raise EnrollError(f"cannot reach the fleet at {url}: {exc.reason}") from None
    try:
        answer = response.json()
    except ValueError:
        raise EnrollError(f"{url} did not answer with JSON: is --fleet the fleet's "
                          "address?") from None
    if not isinstance(answer, dict):
        raise EnrollError(f"{url} answered something that is not an enrolment")
    return answer


def _refusal(status: int, detail: Any) -> str:
    if isinstance(detail, list):  # a 422: the fields the fleet refused
        detail = "; ".join(str(d.get("msg", d)) for d in detail if isinstance(d, dict))
    what = {401: "the code was refused", 410: "the code has expired",
            429: "too many attempts", 404: "this is not an agrifleet fleet (no /api/v1/enrol)"}
    head = what.get(status, f"the fleet refused the enrolment (HTTP {status})")
    return f"{head}: {detail}" if detail else head


def enroll(fleet: str, code: str, config: Path = DEFAULT_CONFIG, *,
           data_dir: Path = DEFAULT_DATA_DIR, force: bool = False,
           ca_file: Path | None = None,
           warn: Callable[[str], None] = lambda text: print(f"warning: {text}",
                                                            file=sys.stderr)) -> Enrolled:
    """Enrol this node with ``code``; writes the config and secrets next to ``config``."""
    parts = urlsplit(fleet.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EnrollError(f"--fleet {fleet!r} is not an http(s):// address of the fleet")
    warnings: list[str] = []
    if parts.scheme == "http":
        warnings.append(f"{fleet} is plain http: the code and the node's new broker password "
                        "cross the network unencrypted; use https:// outside a test bench")
        warn(warnings[-1])
    config, data_dir = config.absolute(), data_dir.absolute()
    if config.exists() and not force:
        raise EnrollError(f"{config} exists: this node looks enrolled already (give --force "
                          "to replace its config and secrets with new ones)")
    folder = config.parent
    try:  # before the code is used up: a node that cannot write its config keeps its code
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EnrollError(f"cannot create {folder}: {exc.strerror}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise EnrollError(f"cannot write in {folder} (run as root, or give --config)")
    password = secrets.token_urlsafe(32)
    device_secret = secrets.token_urlsafe(32)
    answer = _post(fleet.rstrip("/") + "/api/v1/enrol", {
        "code": code.strip(), "mqtt_password": password,
        "device_secret_sha256": hashlib.sha256(device_secret.encode()).hexdigest(),
    }, ca_file)
    try:
        device_id = str(answer["device_id"])
        mqtt_url = str(answer["mqtt_url"])
        prefix = str(answer["mqtt_prefix"])
        keys = list(answer.get("trusted_keys") or [])
        ca_pem = answer.get("ca_pem")
    except (KeyError, TypeError):
        raise EnrollError("the fleet's answer lacks the device id or the broker") from None
    written: list[Path] = []

    def put(path: Path, text: str, mode: int) -> None:
        _write(path, text, mode)
        written.append(path)

    put(folder / "mqtt.password", password + "\n", 0o600)
    put(folder / "device.secret", device_secret + "\n", 0o600)
    mqtt: dict[str, Any] = {"url": mqtt_url, "username": str(answer.get("mqtt_username")
                                                             or device_id),
                            "password_file": folder / "mqtt.password", "prefix": prefix}
    if ca_pem:
        put(folder / "ca.pem", str(ca_pem), 0o644)
        mqtt["ca_file"] = folder / "ca.pem"
    key_paths = []
    for n, key in enumerate(keys):
        name = str(key.get("name") or "")
        if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}", name):
            name = f"key-{n}.pub"
        path = folder / "trusted-keys" / name
        put(path, str(key["pem"]), 0o644)
        key_paths.append(path)
    put(config, config_text(device_id, data_dir, mqtt, key_paths), 0o600)
    return Enrolled(device_id, config, tuple(written), tuple(warnings))
