"""API tokens: random secrets given out once; the database keeps only their SHA-256."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import Engine
from sqlmodel import Session, select

from fleet.models import ROLES, ApiToken

TOKEN_PREFIX = "agf_"  # noqa: S105 - a marker that helps secret scanners, not a secret


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
    """The stored token for a presented secret, or None."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    return session.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(token))).first()
