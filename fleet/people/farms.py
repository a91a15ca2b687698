"""Who may see and manage which farm and which person: the rules the people routes share.

(Narrowing a query of a device's items to the caller's farms is
:func:`fleet.devices.scope.in_farms`.)

A user is *visible* to a caller who is that user, a service admin token, or an admin of a
farm the user belongs to; a caller *manages* a user when they are a service admin or an admin
of every farm the user belongs to (and the user belongs to at least one).
"""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, col, select

from agrifleet.fleet.people.auth.principal import Principal, rank
from agrifleet.fleet.people.tables import Farm, Membership, User


def memberships_of(session: Session, user_id: int) -> list[Membership]:
    return list(session.exec(select(Membership).where(Membership.user_id == user_id)
                             .order_by(col(Membership.farm_id))))


def is_service_admin(caller: Principal) -> bool:
    return caller.kind == "service" and caller.service_role == "admin"


def is_fleet_admin(session: Session, caller: Principal) -> bool:
    """A service admin token, or a user who is admin of every farm."""
    if caller.kind == "service":
        return caller.service_role == "admin"
    farms = set(session.exec(select(Farm.id)).all())
    return bool(farms) and farms <= (caller.farms_with("admin") or set())


def sees_user(session: Session, caller: Principal, user_id: int) -> bool:
    if caller.user is not None and caller.user.id == user_id:
        return True
    if caller.kind == "service":
        return caller.service_role == "admin"
    admin_of = caller.farms_with("admin") or set()
    return any(m.farm_id in admin_of for m in memberships_of(session, user_id))


def manages_user(session: Session, caller: Principal, user_id: int) -> bool:
    if is_service_admin(caller):
        return True
    farms = {m.farm_id for m in memberships_of(session, user_id)}
    return bool(farms) and all(caller.may("admin", farm) for farm in farms)


def visible_users(session: Session, caller: Principal) -> list[User]:
    query = select(User)
    if caller.kind != "service":
        admin_of = caller.farms_with("admin") or set()
        members = select(Membership.user_id).where(col(Membership.farm_id).in_(admin_of))
        own = caller.user.id if caller.user is not None else -1
        query = query.where(col(User.id).in_(members) | (col(User.id) == own))
    return list(session.exec(query.order_by(col(User.id))))


def admins_left(session: Session, farm_id: int, without_user: int) -> int:
    """How many admins the farm would keep without ``without_user``."""
    return int(session.exec(select(func.count()).select_from(Membership).where(
        col(Membership.farm_id) == farm_id, col(Membership.role) == "admin",
        col(Membership.user_id) != without_user)).one())


def highest(roles: list[str]) -> str | None:
    return max(roles, key=rank, default=None)
