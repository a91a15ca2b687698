"""Adding a person: ``POST /api/v1/users``, ``agrifleet fleet create-user`` and the demo's
sign-ins all make the user, their membership and the audit entry here. (The API checks its
caller's farms and role first.)"""

from __future__ import annotations

from sqlmodel import Session, col, select

from agrifleet.fleet.people import audit
from agrifleet.fleet.people.auth.passwords import hash_password
from agrifleet.fleet.people.tables import Farm, Membership, User, UserCreate


class AccountError(ValueError):
    """The account cannot be made; the message says why in one line."""


def add_member(session: Session, person: UserCreate, actor: str | audit.Labelled = "cli",
               address: str | None = None) -> User:
    """A new user with ``person.role`` in ``person.farm_id`` (none: a member of no farm yet),
    audited as made by ``actor`` from ``address``; flushed, not committed."""
    farm_id = person.farm_id
    if farm_id is not None and session.get(Farm, farm_id) is None:
        raise AccountError(f"no farm {farm_id} (create one with agrifleet fleet create-farm "
                           "NAME)")
    if session.exec(select(User).where(col(User.email) == person.email)).first():
        raise AccountError(f"a user with e-mail {person.email} exists")
    user = User(email=person.email, language=person.language,
                password_hash=hash_password(person.password))
    session.add(user)
    session.flush()
    if farm_id is not None:
        session.add(Membership(user_id=user.id or 0, farm_id=farm_id, role=person.role))
    audit.record(session, actor, "user.create", person.email, address, farm_id=farm_id,
                 role=person.role if farm_id is not None else None)
    return user
