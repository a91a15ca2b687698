"""Sending one message: a webhook POST signed with HMAC-SHA256, or an e-mail over SMTP.

Both raise :class:`DeliveryError` with a short reason (never the secret or a password) when the
other side did not take the message; the worker records it as a failed attempt and retries.

A webhook URL is typed by a farm's technician, so the fleet must not become their way into the
fleet's own machine or network (server-side request forgery): unless the operator allows it
(``AGRIFLEET_WEBHOOK_ALLOW_LOCAL``), every address the host name resolves to must be a public
one, the connection goes to the address that was checked (a second lookup cannot swap it), and
redirects are not followed.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import urlsplit

SIGNATURE_HEADER = "X-Agrifleet-Signature"
DELIVERY_HEADER = "X-Agrifleet-Delivery"


class DeliveryError(Exception):
    """The message was not taken; the text says why (safe to store and show)."""


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of the exact body bytes with the hook's secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def split_url(url: str) -> tuple[str, str, int, str]:
    """An http(s) URL's scheme, host, port and request target; DeliveryError for anything else
    (no host, a port that is not a number, another scheme)."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise DeliveryError("not an http(s) URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeliveryError("not an http(s) URL")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port, target


def local_address(host: str) -> str | None:
    """Why ``host`` (a name or an IP literal) is not a public address, if it is plainly not.

    Only what needs no lookup: ``localhost`` names and non-public IP literals (loopback,
    private, link-local, carrier-grade NAT, unspecified, multicast, IPv4 inside IPv6).
    """
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return f"{host} is this machine"
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return None
    return _not_public(address)


def _not_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_global and not address.is_multicast:
        return None
    return f"{address} is not a public address"


def _checked_addresses(host: str, port: int, allow_local: bool) -> list[str]:
    """The addresses to connect to: every address ``host`` resolves to must be public."""
    try:
        found = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise DeliveryError(f"no connection: cannot resolve {host}: {exc}") from None
    addresses = [str(info[4][0]) for info in found]
    if not addresses:
        raise DeliveryError(f"no connection: {host} has no address")
    if not allow_local:
        for address in addresses:
            why = _not_public(ipaddress.ip_address(address.split("%")[0]))
            if why:
                raise DeliveryError(f"refused: {host} resolves to {why} "
                                    "(AGRIFLEET_WEBHOOK_ALLOW_LOCAL allows it)")
    return addresses


def _connect(addresses: list[str], port: int, timeout: float | None) -> socket.socket:
    """A connection to the first of the checked addresses that answers."""
    error: OSError = OSError("no address")
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout)
        except OSError as exc:
            error = exc
    raise error


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to the checked addresses; the Host header still names the URL's host."""

    def __init__(self, host: str, port: int, addresses: list[str], timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.addresses = addresses

    def connect(self) -> None:
        self.sock = _connect(self.addresses, self.port, self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """TLS to the checked addresses, verifying the certificate for the URL's host name."""

    def __init__(self, host: str, port: int, addresses: list[str], timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.addresses = addresses
        self.tls = ssl.create_default_context()

    def connect(self) -> None:
        raw = _connect(self.addresses, self.port, self.timeout)
        self.sock = self.tls.wrap_socket(raw, server_hostname=self.host)


def post_webhook(url: str, secret: str, body: bytes, delivery_id: int,
                 timeout_s: float, allow_local: bool = False) -> str:
    """POST the JSON body; returns "HTTP 2xx", raises DeliveryError otherwise (a redirect too)."""
    scheme, host, port, target = split_url(url)
    if not allow_local and (why := local_address(host)):
        raise DeliveryError(f"refused: {why} (AGRIFLEET_WEBHOOK_ALLOW_LOCAL allows it)")
    addresses = _checked_addresses(host, port, allow_local)
    kind = _PinnedHTTPS if scheme == "https" else _PinnedHTTP
    connection = kind(host, port, addresses, timeout_s)
    try:
        connection.request("POST", target, body=body, headers={
            "Content-Type": "application/json", "User-Agent": "agrifleet-fleet",
            SIGNATURE_HEADER: signature(secret, body), DELIVERY_HEADER: str(delivery_id),
        })
        status = connection.getresponse().status
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise DeliveryError(f"no connection: {exc or type(exc).__name__}") from None
    finally:
        connection.close()
    if not 200 <= status < 300:
        raise DeliveryError(f"HTTP {status}")
    return f"HTTP {status}"


def send_email(*, host: str, port: int, sender: str, to: str, subject: str, text: str,
               username: str | None, password: str | None, starttls: bool,
               timeout_s: float) -> str:
    """Send one plain-text UTF-8 e-mail; returns "SMTP accepted"."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content(text)
    try:
        with smtplib.SMTP(host, port, timeout=timeout_s) as smtp:
            if starttls:
                smtp.starttls(context=ssl.create_default_context())
            if username:
                smtp.login(username, password or "")
            smtp.send_message(message)
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(f"SMTP {exc.smtp_code}") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP: {type(exc).__name__}") from None
    return "SMTP accepted"
