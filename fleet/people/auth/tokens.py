"""API tokens: random secrets given out once; the database keeps only their SHA-256.

Service tokens (``agf_…``, from ``agrifleet fleet create-token``) have a role in every farm
and belong to no user; personal tokens (``agu_…``, ``POST /api/v1/tokens``) have their owner's
roles, an expiry, and can be revoked. A personal token made with another one (its parent)
expires no later than the parent and dies with it: revoking a token revokes its descendants,
and a token whose ancestor is revoked or expired is refused on use.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from agrifleet.fleet.columns import utcnow
from agrifleet.fleet.people.tables import ROLES, ApiToken, UserToken

TOKEN_PREFIX = "agf_"  # noqa: S105 - a marker that helps secret scanners, not a secret
PERSONAL_PREFIX = "agu_"
MAX_TOKEN_LENGTH = 200


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(engine: Engine, role: str, name: str = "") -> str:
    """Store a new token's hash and return the token (shown once, never stored)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with Session(engine) as session:
        session.add(ApiToken(role=role, name=name, token_hash=hash_token(token)))
        session.commit()
    return token


def find_token(session: Session, token: str) -> ApiToken | None:
    """The stored service token for a presented secret, or None."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > MAX_TOKEN_LENGTH:
        return None
    return session.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(token))).first()


#: How many ancestors a token's lineage check follows (a longer chain is refused).
MAX_LINEAGE = 64


def new_personal_token(user_id: int, name: str, expires_days: int,
                       parent: UserToken | None = None) -> tuple[UserToken, str]:
    """A personal token row (not yet added) and its secret, to be shown once; made with
    ``parent``, it expires no later than the parent."""
    secret = PERSONAL_PREFIX + secrets.token_urlsafe(32)
    expires_at = datetime.now(UTC) + timedelta(days=expires_days)
    if parent is not None:
        expires_at = min(expires_at, _aware(parent.expires_at))
    row = UserToken(user_id=user_id, name=name, token_hash=hash_token(secret),
                    expires_at=expires_at, parent_id=parent.id if parent is not None else None)
    return row, secret


def _aware(ts: datetime) -> datetime:
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts


def _live(row: UserToken, now: datetime) -> bool:
    return row.revoked_at is None and _aware(row.expires_at) > now


def lineage_live(session: Session, row: UserToken) -> bool:
    """The token and every token it was made with are unrevoked and unexpired."""
    now = datetime.now(UTC)
    current: UserToken | None = row
    for _ in range(MAX_LINEAGE):
        if current is None:
            return True
        if not _live(current, now):
            return False
        current = session.get(UserToken, current.parent_id) if current.parent_id else None
    return False


def revoke_with_descendants(session: Session, row: UserToken) -> list[UserToken]:
    """Revoke ``row`` and every token made from it, directly or not (added, not committed);
    returns the tokens this revoked."""
    now = utcnow()
    revoked, frontier = [], [row]
    while frontier:
        for token in frontier:
            if token.revoked_at is None:
                token.revoked_at = now
                session.add(token)
                revoked.append(token)
        ids = [t.id for t in frontier]
        frontier = list(session.exec(select(UserToken).where(col(UserToken.parent_id).in_(ids))))
    return revoked


def revoke_all_of(session: Session, user_id: int) -> int:
    """Revoke every live personal token of a user (password changed); how many."""
    rows = session.exec(select(UserToken).where(col(UserToken.user_id) == user_id,
                                                col(UserToken.revoked_at).is_(None))).all()
    now = utcnow()
    for row in rows:
        row.revoked_at = now
        session.add(row)
    return len(rows)


def find_personal_token(session: Session, token: str) -> UserToken | None:
    """The live (unexpired, unrevoked) personal token for a presented secret, or None."""
    if not token.startswith(PERSONAL_PREFIX) or len(token) > MAX_TOKEN_LENGTH:
        return None
    row = session.exec(select(UserToken).where(UserToken.token_hash == hash_token(token))).first()
    if row is None or not lineage_live(session, row):
        return None
    return row
