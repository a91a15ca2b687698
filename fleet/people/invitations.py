"""Invitations to a farm: the only way a farm admin brings in a person who belongs to farms
the admin does not run.

A farm admin invites an e-mail address with a role; the answer holds a secret (``agi_…``,
shown once, stored as its SHA-256) that the admin hands to the person. The person, signed in
with that e-mail, accepts it and becomes a member. An invitation is used once, expires, and
its answer is the same whether the address has an account or not, so it confirms nothing.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, select

from agrifleet.fleet.people.tables import Invitation, InvitationCreate

INVITATION_PREFIX = "agi_"
MAX_INVITATION_LENGTH = 200


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_invitation(farm_id: int, body: InvitationCreate,
                   invited_by: str) -> tuple[Invitation, str]:
    """An invitation row (not yet added) and its secret."""
    secret = INVITATION_PREFIX + secrets.token_urlsafe(32)
    row = Invitation(farm_id=farm_id, email=body.email, role=body.role,
                     token_hash=_hash(secret), invited_by=invited_by[:300],
                     expires_at=datetime.now(UTC) + timedelta(days=body.expires_days))
    return row, secret


def find_open_invitation(session: Session, secret: str) -> Invitation | None:
    """The unaccepted, unexpired invitation of a secret, or None."""
    if not secret.startswith(INVITATION_PREFIX) or len(secret) > MAX_INVITATION_LENGTH:
        return None
    row = session.exec(select(Invitation).where(col(Invitation.token_hash) == _hash(secret))
                       ).first()
    if row is None or row.accepted_at is not None:
        return None
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
    return row if expires > datetime.now(UTC) else None
