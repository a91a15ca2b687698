"""API tokens: random secrets given out once; the database keeps only their SHA-256.

Service tokens (``agf_…``, from ``agrifleet fleet create-token``) have a role in every farm;
personal tokens (``agu_…``, ``POST /api/v1/tokens``) have their owner's roles, an expiry, and
can be revoked.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, select

from fleet.models import ROLES, ApiToken
from fleet.people import UserToken

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


def new_personal_token(user_id: int, name: str, expires_days: int) -> tuple[UserToken, str]:
    """A personal token row (not yet added) and its secret, to be shown once."""
    secret = PERSONAL_PREFIX + secrets.token_urlsafe(32)
    row = UserToken(user_id=user_id, name=name, token_hash=hash_token(secret),
                    expires_at=datetime.now(UTC) + timedelta(days=expires_days))
    return row, secret


def find_personal_token(session: Session, token: str) -> UserToken | None:
    """The live (unexpired, unrevoked) personal token for a presented secret, or None."""
    if not token.startswith(PERSONAL_PREFIX) or len(token) > MAX_TOKEN_LENGTH:
        return None
    row = session.exec(select(UserToken).where(UserToken.token_hash == hash_token(token))).first()
    if row is None or row.revoked_at is not None or row.expires_at <= datetime.now(UTC):
        return None
    return row
