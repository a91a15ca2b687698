"""Device cookies (OWASP, "Slow Down Online Guessing Attacks with Device Cookies"): a browser
that signed in as a person gets a cookie naming it as a known device of that person.

The cookie is a random secret (``agd_…``); the database keeps its SHA-256 with the person it
vouches for, so it cannot be forged or moved to another account, and it proves nothing by
itself: it only lets sign-ins from that browser be throttled by their own failures instead of
the account's and the address's (see :mod:`fleet.people.auth.throttle`).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, delete, select

from agrifleet.fleet.people.tables import KnownDevice

DEVICE_COOKIE = "agrifleet_device"
DEVICE_PREFIX = "agd_"
MAX_COOKIE_LENGTH = 200
#: A person's known browsers beyond this many (least recently seen first) are forgotten.
MAX_DEVICES_PER_USER = 20


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def recognise(session: Session, cookie: str | None, user_id: int,
              max_age_days: float) -> KnownDevice | None:
    """The known device of ``user_id`` the cookie names (seen within ``max_age_days``), or
    None: no cookie, a forged one, another person's, or a stale one."""
    if (not cookie or not cookie.startswith(DEVICE_PREFIX)
            or len(cookie) > MAX_COOKIE_LENGTH):
        return None
    row = session.exec(select(KnownDevice).where(col(KnownDevice.token_hash) == _hash(cookie))
                       ).first()
    if row is None or row.user_id != user_id:
        return None
    seen = row.last_seen_at.replace(tzinfo=UTC) if row.last_seen_at.tzinfo is None \
        else row.last_seen_at
    return row if seen > datetime.now(UTC) - timedelta(days=max_age_days) else None


def remember(session: Session, user_id: int, known: KnownDevice | None) -> str:
    """After a successful sign-in: a fresh device cookie for this browser (the old one, if
    any, is replaced); keeps at most :data:`MAX_DEVICES_PER_USER` per person."""
    if known is not None:
        session.delete(known)
    cookie = DEVICE_PREFIX + secrets.token_urlsafe(32)
    session.add(KnownDevice(token_hash=_hash(cookie), user_id=user_id))
    session.flush()
    keep = select(KnownDevice.id).where(col(KnownDevice.user_id) == user_id).order_by(
        col(KnownDevice.last_seen_at).desc(), col(KnownDevice.id).desc()
    ).limit(MAX_DEVICES_PER_USER)
    session.exec(delete(KnownDevice).where(col(KnownDevice.user_id) == user_id,
                                           col(KnownDevice.id).not_in(keep)))
    return cookie


def forget_all(session: Session, user_id: int) -> None:
    """A deleted person's known devices."""
    session.exec(delete(KnownDevice).where(col(KnownDevice.user_id) == user_id))
