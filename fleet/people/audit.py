"""The audit log: who did what to which target, when, from which address.

:func:`record` adds an entry to the caller's database session, so it is committed (or rolled
back) with the change it describes. Details never hold secrets: keys that look like one
(password, token, secret, code, hash, cookie) are dropped.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any, Protocol

from sqlmodel import Session

from agrifleet.fleet.people.tables import AuditEntry

_SECRET_WORDS = ("password", "token", "secret", "code", "hash", "cookie", "csrf", "key")


class Labelled(Protocol):
    @property
    def label(self) -> str: ...


def _clean(details: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in details.items():
        if any(word in key.lower() for word in _SECRET_WORDS):
            continue
        if isinstance(value, dict):
            value = _clean(value)
        elif not isinstance(value, str | int | float | bool | list | type(None)):
            value = str(value)
        out[key] = value
    return out


def record(session: Session, actor: str | Labelled, action: str, target: str = "",
           address: str | None = None, **details: Any) -> AuditEntry:
    """Add an entry to ``session`` (committed with the caller's transaction).

    ``actor`` is a user's e-mail, a token's label, or a
    :class:`~fleet.people.auth.principal.Principal`;
    ``action`` a dotted verb such as ``device.create``, ``login_failed`` or ``device.revoke``.
    """
    name = actor if isinstance(actor, str) else actor.label
    entry = AuditEntry(actor=name[:300], action=action[:64], target=str(target)[:300],
                       address=(address or None) and address[:64], details=_clean(details))
    session.add(entry)
    return entry


def client_address(peer: str | None, forwarded_for: str | None,
                   trusted_proxies: Sequence[str]) -> str | None:
    """The client's IP: the peer's, or, when the peer is a trusted proxy, the last address in
    X-Forwarded-For that is not one of the trusted proxies."""
    if peer is None or not forwarded_for or not is_trusted(peer, trusted_proxies):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _valid(hop):
            return peer
        if not is_trusted(hop, trusted_proxies):
            return hop
    return hops[0] if hops else peer


def _valid(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


def is_trusted(address: str, proxies: Sequence[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net, strict=False) for net in proxies)
