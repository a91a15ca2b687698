"""Login throttling: too many failed sign-ins for an account, or from an address, within a
window make further attempts a 429 until the oldest failure leaves the window.

A successful sign-in clears the account's failures (not the address's: one good account must
not let an address keep guessing at others).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, delete, select

from fleet.people import LoginFailure


def account_key(email: str) -> str:
    return f"email:{email.strip().lower()[:290]}"


def address_key(address: str | None) -> str:
    return f"addr:{address or 'unknown'}"


def retry_after(session: Session, key: str, max_failures: int, window_s: float) -> int | None:
    """Seconds until ``key`` may try again, or None when it may now."""
    since = datetime.now(UTC) - timedelta(seconds=window_s)
    count, oldest = session.exec(
        select(func.count(), func.min(LoginFailure.ts))
        .where(col(LoginFailure.key) == key, col(LoginFailure.ts) > since)
    ).one()
    if count < max_failures or oldest is None:
        return None
    oldest = oldest.replace(tzinfo=UTC) if oldest.tzinfo is None else oldest
    left = (oldest + timedelta(seconds=window_s) - datetime.now(UTC)).total_seconds()
    return max(1, math.ceil(left))


def record_failure(session: Session, *keys: str) -> None:
    for key in keys:
        session.add(LoginFailure(key=key))


def clear(session: Session, key: str) -> None:
    session.exec(delete(LoginFailure).where(col(LoginFailure.key) == key))


def purge_older_than(session: Session, window_s: float) -> None:
    since = datetime.now(UTC) - timedelta(seconds=window_s)
    session.exec(delete(LoginFailure).where(col(LoginFailure.ts) <= since))
