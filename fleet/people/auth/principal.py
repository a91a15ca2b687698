"""The caller of a route: a user (by session or personal token) or a service token.

A service token has its role in every farm (``farm_ids`` is None: all of them); a user has
the roles of their memberships. Roles are ordered: viewer < technician < admin.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sqlmodel import Session, select

from agrifleet.fleet.people.tables import (
    FARM_ROLES,
    ApiToken,
    Membership,
    User,
    UserSession,
    UserToken,
)


def rank(role: str | None) -> int:
    """-1 for no role, then the role's place in viewer < technician < admin."""
    return FARM_ROLES.index(role) if role in FARM_ROLES else -1


@dataclass
class Principal:
    kind: Literal["user", "service"]
    #: How the audit log names the caller: the user's e-mail, or "token NAME (role)".
    label: str
    via: Literal["session", "token"]
    user: User | None = None
    service_role: str | None = None
    roles: dict[int, str] = field(default_factory=dict)
    session_row: UserSession | None = None
    token_row: UserToken | ApiToken | None = None
    #: The session cookie, when the caller came with one (for the CSRF token).
    cookie: str | None = None

    @property
    def farm_ids(self) -> set[int] | None:
        """The farms the caller may see; None: all (a service token)."""
        return None if self.kind == "service" else set(self.roles)

    def role_in(self, farm_id: int) -> str | None:
        """The caller's role in a farm, or None when it is not theirs."""
        if self.kind == "service":
            return self.service_role
        return self.roles.get(farm_id)

    def may(self, role: str, farm_id: int) -> bool:
        """The caller has ``role`` (or a higher one) in the farm."""
        return rank(self.role_in(farm_id)) >= rank(role)

    def farms_with(self, role: str) -> set[int] | None:
        """The farms where the caller has at least ``role``; None: all farms."""
        if self.kind == "service":
            return None if rank(self.service_role) >= rank(role) else set()
        return {farm for farm, r in self.roles.items() if rank(r) >= rank(role)}

    def best_role(self) -> str | None:
        """The highest role the caller has anywhere."""
        if self.kind == "service":
            return self.service_role
        return max(self.roles.values(), key=rank, default=None)

    @property
    def fleet_wide(self) -> bool:
        return self.kind == "service"


def service_principal(token: ApiToken) -> Principal:
    return Principal(kind="service", label=f"token {token.name or token.id} ({token.role})",
                     via="token", service_role=token.role, token_row=token)


def user_principal(session: Session, user: User, via: Literal["session", "token"],
                   row: UserSession | UserToken) -> Principal:
    roles = {m.farm_id: m.role
             for m in session.exec(select(Membership).where(Membership.user_id == user.id))}
    return Principal(kind="user", label=user.email, via=via, user=user, roles=roles,
                     session_row=row if isinstance(row, UserSession) else None,
                     token_row=row if isinstance(row, UserToken) else None)
