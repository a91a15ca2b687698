"""Dependencies the routes declare with ``Annotated`` aliases: session, caller, role, device."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from agrifleet.fleet.devices.tables import Device
from agrifleet.fleet.metrics import Metrics
from agrifleet.fleet.people import audit
from agrifleet.fleet.people.auth import find_token
from agrifleet.fleet.people.auth.principal import Principal, rank, service_principal, user_principal
from agrifleet.fleet.people.auth.sessions import (
    CSRF_COOKIE,
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    csrf_matches,
    find_session,
)
from agrifleet.fleet.people.auth.tokens import find_personal_token
from agrifleet.fleet.people.tables import User
from agrifleet.fleet.settings import FleetSettings

#: What a device id looks like (agrifleet.contract.DeviceId).
DEVICE_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


def get_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]

_bearer = HTTPBearer(
    auto_error=False,
    description="A service token from `agrifleet fleet create-token --role "
    "admin|technician|viewer`, or a personal token from POST /api/v1/tokens. The dashboard "
    "signs in with POST /api/v1/auth/login instead (session cookie + X-CSRF-Token)",
)

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail,
                         headers={"WWW-Authenticate": "Bearer"})


async def read_csrf_form_field(request: Request) -> None:
    """For a cookie-signed form post: keep its ``csrf_token`` field for :func:`get_caller`."""
    request.state.csrf_form = None
    if (request.method not in UNSAFE_METHODS or "authorization" in request.headers
            or SESSION_COOKIE not in request.cookies):
        return
    kind = request.headers.get("content-type", "")
    if kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        request.state.csrf_form = value if isinstance(value, str) else None


def get_caller(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """Who is calling: a bearer token (service or personal), else the session cookie; 401
    when neither is valid, 403 for a cookie-signed unsafe request without its CSRF token."""
    if credentials is not None:
        return bearer_principal(session, credentials.credentials)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie is None:
        raise _unauthorized("missing credentials: send 'Authorization: Bearer <token>' or "
                            "sign in with POST /api/v1/auth/login")
    row = find_session(session, cookie)
    user = session.get(User, row.user_id) if row is not None else None
    if row is None or user is None or not user.active:
        raise _unauthorized("the session has expired or was signed out; sign in again")
    if request.method in UNSAFE_METHODS:
        presented = request.headers.get(CSRF_HEADER) or getattr(request.state, "csrf_form", None)
        if not csrf_matches(cookie, presented):
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"missing or wrong CSRF token: send the {CSRF_HEADER} header "
                                f"(the {CSRF_COOKIE} cookie's value) with a session cookie")
    caller = user_principal(session, user, "session", row)
    caller.cookie = cookie
    return caller


def bearer_principal(session: Session, secret: str) -> Principal:
    service = find_token(session, secret)
    if service is not None:
        return service_principal(service)
    personal = find_personal_token(session, secret)
    user = session.get(User, personal.user_id) if personal is not None else None
    if personal is None or user is None or not user.active:
        raise _unauthorized("invalid, expired or revoked API token")
    return user_principal(session, user, "token", personal)


#: The caller of a route: a user (session or personal token) or a service token.
CallerDep = Annotated[Principal, Depends(get_caller)]
#: The name existing routes use for the caller.
CurrentToken = CallerDep
get_current_token = get_caller


def require_admin(caller: CallerDep) -> Principal:
    """403 unless the caller is an admin (of some farm; routes check which)."""
    if rank(caller.best_role()) < rank("admin"):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"needs the admin role (caller is {caller.best_role()})"
        )
    return caller


AdminToken = Annotated[Principal, Depends(require_admin)]


def refuse_unknown_query(request: Request) -> None:
    """422 for a query parameter the route does not take (``?sensr=soil`` filters nothing)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    known = _query_names(route.dependant)
    unknown = [name for name in dict.fromkeys(request.query_params) if name not in known]
    if unknown:
        takes = ", ".join(sorted(known)) or "none"
        raise RequestValidationError([
            {"type": "extra_forbidden", "loc": ("query", name), "input": request.query_params[name],
             "msg": f"unknown query parameter; this route takes: {takes}"}
            for name in unknown
        ])  # fmt: skip


def _query_names(dependant: Dependant) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def require_technician(caller: CallerDep) -> Principal:
    """403 unless the caller is a technician or admin (of some farm; routes check which)."""
    if rank(caller.best_role()) < rank("technician"):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"needs the technician role (caller is {caller.best_role()})",
        )
    return caller


TechnicianToken = Annotated[Principal, Depends(require_technician)]


def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


MetricsDep = Annotated[Metrics, Depends(get_metrics)]


def get_settings(request: Request) -> FleetSettings:
    settings: FleetSettings = request.app.state.settings
    return settings


SettingsDep = Annotated[FleetSettings, Depends(get_settings)]


def get_device(
    session: SessionDep,
    caller: CallerDep,
    device_id: Annotated[str, Path(description="Device id", max_length=64, pattern=DEVICE_ID)],
) -> Device:
    """The device named in the path; 404 when the fleet does not know it or it is in a farm
    that is not the caller's."""
    device = session.get(Device, device_id)
    if device is None or caller.role_in(device.farm_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown device {device_id!r}")
    return device


def client_address(request: Request) -> str | None:
    """The caller's IP address, through trusted proxies only (AGRIFLEET_TRUSTED_PROXIES)."""
    settings: FleetSettings = request.app.state.settings
    peer = request.client.host if request.client is not None else None
    return audit.client_address(peer, request.headers.get("x-forwarded-for"),
                                settings.trusted_proxies)


AddressDep = Annotated[str | None, Depends(client_address)]


DeviceDep = Annotated[Device, Depends(get_device)]
