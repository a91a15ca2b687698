"""Who published a package, as a caller may see it: a person's e-mail only to members of a
farm that person is in (and to service tokens); to others a neutral name."""

from __future__ import annotations

from sqlmodel import Session, col, select

from agrifleet.fleet.people.tables import Membership, User

#: What a caller who shares no farm with a package's publisher sees instead of the e-mail.
OTHER_PUBLISHER = "someone in another farm"


def shown_publisher(session: Session, farms: set[int] | None, published_by: str) -> str:
    """``published_by`` for a caller who sees ``farms`` (None: every farm); a service token's
    name is shown to all, a person's e-mail only where the caller shares a farm with them."""
    if farms is None:
        return published_by
    user = session.exec(select(User).where(col(User.email) == published_by)).first()
    if user is None:
        return published_by
    shared = session.exec(select(Membership).where(col(Membership.user_id) == user.id,
                                                   col(Membership.farm_id).in_(farms))).first()
    return published_by if shared is not None else OTHER_PUBLISHER
