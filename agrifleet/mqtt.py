"""MQTT broker addresses, shared by the node and the fleet: URL rules, TLS, password masking.

``parse_mqtt_url("mqtts://user:pw@host:8883")`` gives a :class:`BrokerAddress`; a URL that is
not one raises :class:`ValueError` whose message never holds the password. :func:`mask_url`
hides the password of any URL (MQTT, database) for logs and error messages. Pure stdlib and
pydantic; paho is imported only inside :func:`configure_tls`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:  # paho stays out of modules that only need URL rules
    import paho.mqtt.client as mqtt

PLAIN_PORT = 1883
TLS_PORT = 8883
SCHEMES = ("mqtt", "mqtts")
MASK = "***"


class BrokerAddress(BaseModel):
    """Where a broker is and how to log in; ``repr`` and :meth:`safe_url` hide the password."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)
    tls: bool = False
    username: str | None = None
    password: str | None = Field(default=None, repr=False)

    def safe_url(self) -> str:
        """The address as a URL for logs: the user name, never the password."""
        scheme = "mqtts" if self.tls else "mqtt"
        user = self.username or ""
        secret = f":{MASK}" if self.password else ""
        login = f"{user}{secret}@" if user or secret else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{login}{host}:{self.port}"


def mask_url(url: str) -> str:
    """The URL with any password replaced by ``***``; other parts kept for the reader.

    Also masks what only looks like a password, for example an unescaped ``/`` or ``#`` in it
    that makes the URL unparseable: everything between ``scheme://user:`` and the last ``@``.
    """
    try:
        parts = urlsplit(url)
        if "@" in parts.netloc and parts.password is not None:
            host = parts.netloc.rsplit("@", 1)[1]
            return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:{MASK}@{host}"))
    except ValueError:
        pass
    scheme, sep, rest = url.partition("://")
    head = scheme + sep if sep else ""
    if not sep:
        rest = url
    userinfo, at, host = rest.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return f"{head}{user}:{MASK}@{host}"


def parse_mqtt_url(url: str, *, ca_file: Path | None = None) -> BrokerAddress:
    """``mqtt[s]://[user[:password]@]host[:port]`` as a :class:`BrokerAddress`.

    A ``ca_file`` implies TLS; the port defaults to 8883 with TLS and 1883 without. User name
    and password are percent-decoded. Raises ValueError with the URL masked.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"invalid MQTT URL {mask_url(url)!r}: {_no_secret(exc)}") from None
    if parts.scheme not in SCHEMES:
        raise ValueError(f"invalid MQTT URL {mask_url(url)!r}: must start with mqtt:// or "
                         "mqtts:// (mqtt://user:password@host:port)")
    if not parts.hostname:
        raise ValueError(f"invalid MQTT URL {mask_url(url)!r}: it has no host name")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"invalid MQTT URL {mask_url(url)!r}: only user, password, host and "
                         "port belong in it (a '/', '?' or '#' in a password must be written "
                         "%2F, %3F, %23)")
    if port == 0:
        raise ValueError(f"invalid MQTT URL {mask_url(url)!r}: port 0 is not a broker's port")
    tls = parts.scheme == "mqtts" or ca_file is not None
    return BrokerAddress(
        host=parts.hostname,
        port=port or (TLS_PORT if tls else PLAIN_PORT),
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


def _no_secret(exc: ValueError) -> str:
    """urllib's own reason (a bad port), which names no part of the URL."""
    text = str(exc)
    return "the port is not a number from 1 to 65535" if "port" in text.lower() else "malformed"


def configure_tls(client: mqtt.Client, ca_file: Path | None) -> None:
    """Check the broker's certificate and host name, against ``ca_file`` or the system's CAs."""
    import ssl

    client.tls_set(ca_certs=str(ca_file) if ca_file else None, cert_reqs=ssl.CERT_REQUIRED)


def configure_client(client: mqtt.Client, address: BrokerAddress,
                     ca_file: Path | None = None) -> None:
    """Credentials and, for a TLS address, certificate checks on a fresh paho client."""
    if address.username is not None or address.password is not None:
        client.username_pw_set(address.username or "", address.password)
    if address.tls:
        configure_tls(client, ca_file)
