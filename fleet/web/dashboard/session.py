"""Who is signed in to the dashboard: the one module that knows how people and sessions work.

The dashboard uses the fleet's own users and sessions (fleet/people/auth/): its sign-in form calls
the
same code as ``POST /api/v1/auth/login`` (throttling, audit log, the HttpOnly session cookie
and the readable ``agrifleet_csrf`` cookie), and its browser code calls the REST API with that
cookie and the ``X-CSRF-Token`` header, so the API checks every role and farm itself. The farm
in view is chosen with ``?farm=ID`` among the person's farms and remembered in a cookie.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import HTTPException, Request, Response
from pydantic import ValidationError
from sqlmodel import Session, col, select

from agrifleet.fleet.people import audit
from agrifleet.fleet.people.auth.sessions import CSRF_COOKIE, SESSION_COOKIE, csrf_for, find_session
from agrifleet.fleet.people.farms import memberships_of
from agrifleet.fleet.people.tables import Farm, User
from agrifleet.fleet.web.api.deps import client_address

__all__ = ["CSRF_COOKIE", "FARM_COOKIE", "SESSION_COOKIE", "Principal", "current", "sign_in",
           "sign_out"]

FARM_COOKIE = "agrifleet_farm"


@dataclass
class Principal:
    """A signed-in person: their role in each farm they belong to, and the farm in view."""

    email: str
    user_id: int
    roles: dict[int, str]
    farm_id: int  # 0: the person belongs to no farm and sees nothing
    csrf: str
    language: str | None = None
    farm_names: dict[int, str] = field(default_factory=dict)

    @property
    def role(self) -> str | None:
        return self.roles.get(self.farm_id)

    @property
    def is_technician(self) -> bool:
        return self.role in ("technician", "admin")


def _farm_choice(request: Request, roles: dict[int, str]) -> int:
    for chosen in (request.query_params.get("farm"), request.cookies.get(FARM_COOKIE)):
        if chosen and chosen.isdigit() and int(chosen) in roles:
            return int(chosen)
    return min(roles) if roles else 0


def current(request: Request) -> Principal | None:
    """The signed-in person (an unexpired session of an active user), or None."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    with Session(request.app.state.engine) as db:
        row = find_session(db, cookie)
        user = db.get(User, row.user_id) if row is not None else None
        if user is None or not user.active or user.id is None:
            return None
        roles = {m.farm_id: m.role for m in memberships_of(db, user.id)}
        names = {f.id: f.name for f in db.exec(select(Farm).where(col(Farm.id).in_(roles)))
                 if f.id is not None}
        return Principal(email=user.email, user_id=user.id, roles=roles,
                         farm_id=_farm_choice(request, roles), csrf=csrf_for(cookie),
                         language=user.language, farm_names=names)


def sign_in(request: Request, email: str, password: str) -> tuple[int, Response]:
    """Sign in as ``POST /api/v1/auth/login`` does: (200, a response holding the cookies) or
    (401 wrong credentials | 429 throttled, a response with the Retry-After header)."""
    from agrifleet.fleet.web.api.routes.auth import LoginRequest, login

    response = Response()
    try:
        body = LoginRequest(email=email, password=password)
    except ValidationError:
        return 401, response
    with Session(request.app.state.engine) as db:
        try:
            login(body, request, response, db, request.app.state.settings,
                  client_address(request))
        except HTTPException as exc:
            refused = Response()
            for name, value in (exc.headers or {}).items():
                if name.lower() == "retry-after":
                    refused.headers[name] = value
            return exc.status_code, refused
    return 200, response


def sign_out(request: Request, who: Principal) -> None:
    """End this browser's session (the other sessions of the person stay)."""
    cookie = request.cookies.get(SESSION_COOKIE, "")
    with Session(request.app.state.engine) as db:
        row = find_session(db, cookie)
        if row is not None:
            db.delete(row)
        audit.record(db, who.email, "logout", who.email, client_address(request), via="dashboard")
        db.commit()


def remember_language(request: Request, who: Principal, lang: str) -> None:
    """Keep the person's language choice on the user, so every browser of theirs gets it."""
    with Session(request.app.state.engine) as db:
        user = db.get(User, who.user_id)
        if user is not None:
            user.language = lang
            db.add(user)
            db.commit()


def csrf_ok(who: Principal, presented: str | None) -> bool:
    import hmac

    return bool(presented) and hmac.compare_digest(who.csrf, presented or "")
