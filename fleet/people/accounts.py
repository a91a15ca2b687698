"""People's accounts made outside the API: ``agrifleet fleet create-user`` and the demo's
sign-ins. (The API's ``POST /api/v1/users`` checks its caller's farms first.)"""

from __future__ import annotations

from sqlmodel import Session, col, select

from agrifleet.fleet.people import audit
from agrifleet.fleet.people.auth.passwords import hash_password
from agrifleet.fleet.people.tables import Farm, FarmRole, Membership, User


class AccountError(ValueError):
    """The account cannot be made; the message says why in one line."""


def add_member(session: Session, email: str, password: str, farm_id: int, role: FarmRole,
               actor: str = "cli") -> User:
    """A new user with ``role`` in farm ``farm_id``, audited as made by ``actor``; flushed, not
    committed. ``email`` and ``password`` are already validated (``UserCreate``)."""
    if session.get(Farm, farm_id) is None:
        raise AccountError(f"no farm {farm_id} (create one with agrifleet fleet create-farm "
                           "NAME)")
    if session.exec(select(User).where(col(User.email) == email)).first():
        raise AccountError(f"a user with e-mail {email} exists")
    user = User(email=email, password_hash=hash_password(password))
    session.add(user)
    session.flush()
    session.add(Membership(user_id=user.id or 0, farm_id=farm_id, role=role))
    audit.record(session, actor, "user.create", email, None, farm_id=farm_id, role=role)
    session.flush()
    return user
