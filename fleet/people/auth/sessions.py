"""Dashboard sessions: a random cookie whose SHA-256 is stored with an expiry, and the CSRF
token bound to it (derived from the cookie, so it is never stored)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, delete, select

from agrifleet.fleet.people.tables import UserSession

SESSION_COOKIE = "agrifleet_session"
#: Not HttpOnly: the dashboard's script reads it and sends it back as X-CSRF-Token.
CSRF_COOKIE = "agrifleet_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SESSION_PREFIX = "ags_"
MAX_COOKIE_LENGTH = 200


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def csrf_for(cookie: str) -> str:
    """The session's CSRF token: one-way from the cookie, so it reveals nothing of it."""
    return hashlib.sha256(b"agrifleet-csrf\x00" + cookie.encode()).hexdigest()


def csrf_matches(cookie: str, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(csrf_for(cookie), presented)


def start_session(session: Session, user_id: int, hours: float,
                  address: str | None) -> tuple[UserSession, str]:
    """A new session row (added, not committed) and the cookie value to set."""
    cookie = SESSION_PREFIX + secrets.token_urlsafe(32)
    row = UserSession(token_hash=_hash(cookie), user_id=user_id, address=address,
                      expires_at=datetime.now(UTC) + timedelta(hours=hours))
    session.add(row)
    return row, cookie


def find_session(session: Session, cookie: str) -> UserSession | None:
    """The unexpired session of a cookie, or None."""
    if not cookie.startswith(SESSION_PREFIX) or len(cookie) > MAX_COOKIE_LENGTH:
        return None
    row = session.exec(select(UserSession).where(UserSession.token_hash == _hash(cookie))).first()
    if row is None or row.expires_at <= datetime.now(UTC):
        return None
    return row


def end_sessions(session: Session, user_id: int) -> None:
    """Sign a user out everywhere (password changed, user deactivated or deleted)."""
    session.exec(delete(UserSession).where(col(UserSession.user_id) == user_id))


def purge_expired(session: Session) -> None:
    now = datetime.now(UTC)
    session.exec(delete(UserSession).where(col(UserSession.expires_at) <= now))
