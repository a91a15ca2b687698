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

from pydantic import ConfigDict
from sqlalchemy import Index
from sqlmodel import Field, Session, SQLModel, col, select

from fleet.columns import BigId, UtcDateTime, utcnow
from fleet.people.tables import Email, FarmRole

INVITATION_PREFIX = "agi_"
MAX_INVITATION_LENGTH = 200


class InvitationBase(SQLModel):
    farm_id: int = Field(foreign_key="farm.id")
    email: str = Field(max_length=254, description="Only the account with this e-mail may "
                       "accept it")
    role: str = Field(max_length=16, description="viewer, technician or admin")
    expires_at: datetime = Field(sa_type=UtcDateTime)


class InvitationCreate(SQLModel):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    email: Email
    role: FarmRole = "viewer"
    expires_days: int = Field(default=7, ge=1, le=30, description="Days it may be accepted")


class Invitation(InvitationBase, table=True):
    """An invitation to a farm; only its secret's SHA-256 is stored."""

    __table_args__ = (Index("ix_invitation_farm_id", "farm_id", "id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    token_hash: str = Field(max_length=64, unique=True)
    invited_by: str = Field(max_length=300, description="Who invited: an e-mail or a token's "
                            "label")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    accepted_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    accepted_by: int | None = Field(default=None, description="The user id who accepted")


class InvitationPublic(InvitationBase):
    id: int
    invited_by: str
    created_at: datetime
    accepted_at: datetime | None


class InvitationCreated(InvitationPublic):
    token: str = Field(description="The secret, shown this once: give it to the person, who "
                       "accepts with POST /api/v1/invitations/{token}/accept while signed in")


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
