"""Sign-in throttling with growing delays, per account, per address and per known device.

Every failed sign-in is stored under the keys it counts against. A key with more than its
free failures within the window waits ``base × 2^(failures − free)`` seconds (at most
``max_delay``) after its latest failure: a typo costs nothing, a guesser waits 5, 10, 20, 40 …
seconds, never a flat lock-out.

A browser that signed in before as a person carries a device cookie
(:mod:`fleet.people.auth.devices`,
after OWASP's "device cookies"). Signing in as that person from that browser counts only
against the device's own failures: the account's and the address's delays do not apply, so a
stranger guessing at an account, or a colleague's typos behind the same NAT, never keep a known
browser out. Without a device cookie both the account's and the address's delays apply.

A successful sign-in clears the failures of the key it was judged by (the device's, or the
account's; never the address's: one good account must not let an address keep guessing).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, delete, select

from agrifleet.fleet.people.tables import LoginFailure


@dataclass(frozen=True)
class Backoff:
    """How a key is slowed: ``free`` failures within ``window_s`` cost nothing; each further
    one doubles the wait after the latest, from ``base_s`` up to ``max_s``."""

    free: int
    base_s: float
    max_s: float
    window_s: float

    def delay(self, failures: int) -> float:
        """Seconds to wait after the latest of ``failures`` failures."""
        if failures < self.free:
            return 0.0
        return float(min(self.max_s, self.base_s * 2.0 ** min(failures - self.free, 62)))


def account_key(email: str) -> str:
    return f"email:{email.strip().lower()[:290]}"


def address_key(address: str | None) -> str:
    return f"addr:{address or 'unknown'}"


def device_key(device_id: int) -> str:
    return f"device:{device_id}"


def retry_after(session: Session, key: str, rule: Backoff) -> int | None:
    """Seconds until ``key`` may try again, or None when it may now."""
    now = datetime.now(UTC)
    count, latest = session.exec(
        select(func.count(), func.max(LoginFailure.ts))
        .where(col(LoginFailure.key) == key,
               col(LoginFailure.ts) > now - timedelta(seconds=rule.window_s))
    ).one()
    wait = rule.delay(count)
    if not wait or latest is None:
        return None
    latest = latest.replace(tzinfo=UTC) if latest.tzinfo is None else latest
    left = (latest + timedelta(seconds=wait) - now).total_seconds()
    return math.ceil(left) if left > 0 else None


def record_failure(session: Session, *keys: str) -> None:
    for key in keys:
        session.add(LoginFailure(key=key))


def clear(session: Session, key: str) -> None:
    session.exec(delete(LoginFailure).where(col(LoginFailure.key) == key))


def purge_older_than(session: Session, window_s: float) -> None:
    since = datetime.now(UTC) - timedelta(seconds=window_s)
    session.exec(delete(LoginFailure).where(col(LoginFailure.ts) <= since))
