"""Enrolment and revocation routes: ``POST /devices/{id}/enrolment-code`` and ``.../revoke``
(technician), and the public ``POST /enrol`` a node calls with nothing but its code."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import BaseModel, Field

from agrifleet.fleet.devices.broker_accounts import BrokerAccounts, BrokerUnavailable
from agrifleet.fleet.devices.enrolment import (
    AttemptLimiter,
    EnrolAnswer,
    EnrolmentError,
    EnrolRequest,
    issue_code,
)
from agrifleet.fleet.devices.enrolment import enrol as enrol_node
from agrifleet.fleet.devices.enrolment import revoke as revoke_device
from agrifleet.fleet.devices.tables import Device
from agrifleet.fleet.people.auth.principal import Principal
from agrifleet.fleet.web.api.deps import (
    DeviceDep,
    SessionDep,
    SettingsDep,
    TechnicianToken,
    client_address,
    refuse_unknown_query,
)
from agrifleet.fleet.web.api.errors import UNAVAILABLE, Message, too_large
from agrifleet.fleet.web.api.params import MAX_BODY_BYTES

router = APIRouter(prefix="/devices", tags=["enrolment"])
#: Outside the token-protected router: the code is the node's only credential.
public_router = APIRouter(tags=["enrolment"], dependencies=[Depends(refuse_unknown_query)])

_BROKER_DOWN: dict[int | str, dict[str, Any]] = {502: {
    "model": Message,
    "description": "The broker's dynamic security plugin could not be reached or refused "
    "the change",
}}


class EnrolmentCodePublic(BaseModel):
    code: str = Field(description="The one-time code: shown once, stored hashed")
    expires_at: datetime


class RevokedPublic(BaseModel):
    id: str
    revoked_at: datetime
    broker_account_deleted: bool = Field(
        description="False when the fleet has no broker (AGRIFLEET_MQTT_URL unset)")


def _actor(caller: Principal, device: Device) -> str:
    """The caller's name for the audit log, once its technician role in the device's farm is
    checked (a technician of another farm does not even learn the device exists: 404 first)."""
    if not caller.may("technician", device.farm_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            f"needs the technician role in farm {device.farm_id}")
    return caller.label


def _address(request: Request) -> str | None:
    return client_address(request)


def _accounts(request: Request) -> BrokerAccounts:
    return BrokerAccounts(request.app.state.settings)


@router.post(
    "/{device_id}/enrolment-code",
    status_code=status.HTTP_201_CREATED,
    responses={404: {"model": Message}, **_BROKER_DOWN},
    summary="A one-time enrolment code for the device (technician); an enrolled device's old "
    "secrets are revoked: this is how a node is enrolled again",
)
def create_enrolment_code(token: TechnicianToken, device: DeviceDep, session: SessionDep,
                          settings: SettingsDep, request: Request) -> EnrolmentCodePublic:
    try:
        code, expires = issue_code(session, device, settings, _accounts(request),
                                   _actor(token, device),
                                   _address(request))
    except BrokerUnavailable as exc:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY,
                            f"the old broker account could not be deleted: {exc}") from None
    return EnrolmentCodePublic(code=code, expires_at=expires)


@router.post(
    "/{device_id}/revoke",
    responses={404: {"model": Message}, **_BROKER_DOWN},
    summary="Revoke the device (technician): its broker session is closed, its credentials stop "
    "working and its messages are refused from now on",
)
def revoke(token: TechnicianToken, device: DeviceDep, session: SessionDep,
           request: Request) -> RevokedPublic:
    try:
        deleted = revoke_device(session, device, _accounts(request), _actor(token, device),
                                _address(request))
    except BrokerUnavailable as exc:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY,
                            f"revoked in the fleet (its messages are refused), but the broker "
                            f"account is not deleted yet: {exc}; send the request again") from None
    finally:
        ingestor = request.app.state.ingestor
        if ingestor is not None:
            ingestor.writer.forget(device.id)
    assert device.revoked_at is not None
    return RevokedPublic(id=device.id, revoked_at=device.revoked_at,
                         broker_account_deleted=deleted)


def _limiter(request: Request) -> AttemptLimiter:
    state = request.app.state
    limiter: AttemptLimiter | None = getattr(state, "enrol_limiter", None)
    if limiter is None:
        limiter = state.enrol_limiter = AttemptLimiter(
            state.settings.enrolment_attempts_per_minute)
    return limiter


@public_router.post(
    "/enrol",
    responses={
        401: {"model": Message, "description": "Unknown or already used code"},
        409: {"model": Message, "description": "The device credential is taken"},
        410: {"model": Message, "description": "The code expired"},
        429: {"model": Message, "description": "Too many attempts from this address"},
        **_BROKER_DOWN, **UNAVAILABLE, **too_large(MAX_BODY_BYTES),
    },
    summary="A node enrols with its one-time code and the secrets it made (no token)",
    max_body_size=MAX_BODY_BYTES,
)
def enrol(body: EnrolRequest, session: SessionDep, settings: SettingsDep,
          request: Request) -> EnrolAnswer:
    address = _address(request)
    if not _limiter(request).allow(address or "?"):
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                            "too many enrolment attempts from this address; wait a minute",
                            headers={"Retry-After": "60"})
    try:
        answer = enrol_node(session, body, settings, _accounts(request), address)
    except EnrolmentError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    except BrokerUnavailable as exc:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY,
                            f"the broker account could not be created (the code is still "
                            f"valid; try again): {exc}") from None
    ingestor = request.app.state.ingestor
    if ingestor is not None:
        ingestor.writer.forget(answer.device_id)
    return answer
