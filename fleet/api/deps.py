"""Dependencies the routes declare with ``Annotated`` aliases: session, token, role, device."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from fleet.auth import find_token
from fleet.metrics import Metrics
from fleet.models import ApiToken, Device
from fleet.settings import FleetSettings

#: What a device id looks like (agrifleet.contract.DeviceId).
DEVICE_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


def get_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]

_bearer = HTTPBearer(
    auto_error=False,
    description="An API token from `agrifleet fleet create-token --role admin|technician|viewer`",
)


def get_current_token(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ApiToken:
    """The caller's token; 401 when it is missing or unknown."""
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing API token: send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    token = find_token(session, credentials.credentials)
    if token is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "invalid API token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return token


CurrentToken = Annotated[ApiToken, Depends(get_current_token)]


def require_admin(token: CurrentToken) -> ApiToken:
    """403 unless the token has the admin role."""
    if token.role != "admin":
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"needs the admin role (token is {token.role})"
        )
    return token


AdminToken = Annotated[ApiToken, Depends(require_admin)]


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


def require_technician(token: CurrentToken) -> ApiToken:
    """403 unless the token may publish models and steer rollouts (technician or admin)."""
    if token.role not in ("admin", "technician"):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"needs the technician role (token is {token.role})"
        )
    return token


TechnicianToken = Annotated[ApiToken, Depends(require_technician)]


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
    device_id: Annotated[str, Path(description="Device id", max_length=64, pattern=DEVICE_ID)],
) -> Device:
    """The device named in the path; 404 when the fleet does not know it."""
    device = session.get(Device, device_id)
    if device is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown device {device_id!r}")
    return device


DeviceDep = Annotated[Device, Depends(get_device)]
