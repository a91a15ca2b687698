"""``/api/v1/rollouts``: start a phased rollout, follow it, pause, resume, abort or approve it.

Scoping: a rollout touches the farms of its devices. A user sees the rollouts that touch one
of their farms, with their farms' devices only (:mod:`…rollouts.views`); starting one needs
the technician role in every target device's farm (a tag or "all" from a user means the
matching devices of the farms where they are technician, recorded as the device list), and
steering one needs it in every farm the rollout touches.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Request, status
from sqlmodel import col, select
from starlette.concurrency import run_in_threadpool

from agrifleet.fleet.devices.tables import Device
from agrifleet.fleet.modelops.rollouts.engine import RolloutEngine
from agrifleet.fleet.modelops.rollouts.plan import PlanError
from agrifleet.fleet.modelops.rollouts.schemas import (
    RolloutAction,
    RolloutCreate,
    RolloutDetail,
    RolloutPublic,
    Targets,
)
from agrifleet.fleet.modelops.rollouts.tables import Rollout, RolloutDevice
from agrifleet.fleet.modelops.rollouts.views import rollout_detail, rollout_public
from agrifleet.fleet.people import audit
from agrifleet.fleet.people.auth.principal import Principal
from agrifleet.fleet.web.api.deps import (
    AddressDep,
    CallerDep,
    SessionDep,
    SettingsDep,
    TechnicianToken,
)
from agrifleet.fleet.web.api.errors import Message, too_large
from agrifleet.fleet.web.api.params import MAX_ID, Limit
from agrifleet.fleet.web.api.routes.registry import refusal

router = APIRouter(prefix="/rollouts", tags=["rollouts"])

RolloutId = Annotated[int, Path(ge=1, le=MAX_ID, description="Rollout id")]
#: A rollout body names its devices: room for some thousands of ids.
MAX_ROLLOUT_BODY = 1024 * 1024
TOO_LARGE = too_large(MAX_ROLLOUT_BODY)


def actor(caller: Principal) -> str:
    """How the record names a person: a user's e-mail, or the token's name and role."""
    if caller.user is not None:
        return caller.user.email
    token = caller.token_row
    name = token.name if token is not None and token.name else f"token {token.id if token else '?'}"
    return f"{name} ({caller.service_role})"


def _touched_farms(session: SessionDep, rollout_id: int) -> set[int]:
    """The farms of the devices a rollout has."""
    rows = session.exec(
        select(Device.farm_id)
        .join(RolloutDevice, col(RolloutDevice.device_id) == col(Device.id))
        .where(col(RolloutDevice.rollout_id) == rollout_id)
    ).all()
    return set(rows)


def _scoped_targets(session: SessionDep, caller: Principal, body: RolloutCreate) -> RolloutCreate:
    """The request with its targets limited to what the caller may update (see the module)."""
    allowed = caller.farms_with("technician")
    if allowed is None:
        return body
    seen = caller.farm_ids or set()
    targets = body.targets
    if targets.devices is not None:
        wanted = sorted(set(targets.devices))
        found = {d.id: d for d in session.exec(select(Device).where(col(Device.id).in_(wanted)))}
        missing = [d for d in wanted if d not in found or found[d].farm_id not in seen]
        if missing:
            raise HTTPException(status.HTTP_404_NOT_FOUND,
                                f"unknown device(s): {', '.join(missing[:10])}")
        below = [d for d in wanted if found[d].farm_id not in allowed]
        if below:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "needs the technician role in the "
                                f"farm of: {', '.join(below[:10])}")
        return body
    query = select(Device).where(col(Device.farm_id).in_(allowed)).order_by(col(Device.id))
    devices = [d.id for d in session.exec(query)
               if targets.tag is None or targets.tag in (d.tags or [])]
    if not devices:
        raise refusal("no_devices", f"no device of your farms has tag {targets.tag!r}"
                      if targets.tag else "your farms have no registered devices",
                      ("body", "targets"))
    return body.model_copy(update={"targets": Targets(devices=devices)})


def _engine(request: Request) -> RolloutEngine:
    engine: RolloutEngine | None = request.app.state.rollouts
    if engine is None:
        # Not a 503: it will not pass by trying again, the fleet must be configured.
        raise HTTPException(status.HTTP_409_CONFLICT,
                            "rollouts need MQTT to send offers: this fleet runs without "
                            "AGRIFLEET_MQTT_URL")
    return engine


def _plan_error(exc: PlanError) -> Exception:
    if exc.status == 422:
        return refusal(exc.reason, str(exc), ("body", "targets"))
    return HTTPException(exc.status, str(exc))


def _get(session: SessionDep, rollout_id: int, caller: Principal | None = None) -> Rollout:
    """The rollout; 404 when there is none, or none of its devices is in the caller's farms."""
    rollout = session.get(Rollout, rollout_id)
    seen = caller.farm_ids if caller is not None else None
    if rollout is None or (seen is not None and not _touched_farms(session, rollout_id) & seen):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no rollout {rollout_id}")
    return rollout


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={404: {"model": Message, "description": "No such package or device"},
               409: {"model": Message, "description": "A device is in an unfinished rollout, "
                     "or the fleet runs without MQTT"},
               **TOO_LARGE},
    summary="Start a rollout of a registry package to devices, a tag or all (technician)",
    max_body_size=MAX_ROLLOUT_BODY,
)
async def start_rollout(body: RolloutCreate, request: Request, session: SessionDep,
                        settings: SettingsDep, token: TechnicianToken,
                        address: AddressDep) -> RolloutDetail:
    body = _scoped_targets(session, token, body)
    engine = _engine(request)
    try:
        rid = await run_in_threadpool(engine.create, body, actor(token))
    except PlanError as exc:
        raise _plan_error(exc) from None
    audit.record(session, token, "rollout.start", f"rollout {rid}", address,
                 model=body.model, version=body.version,
                 targets=body.targets.model_dump(exclude_none=True, exclude_defaults=True))
    session.commit()
    return rollout_detail(session, _get(session, rid), settings.offline_after_s, token.farm_ids)


@router.get("", summary="Rollouts that touch the caller's farms, newest first")
def list_rollouts(session: SessionDep, caller: CallerDep,
                  limit: Limit = 100) -> list[RolloutPublic]:
    query = select(Rollout)
    seen = caller.farm_ids
    if seen is not None:
        touching = (select(RolloutDevice.rollout_id)
                    .join(Device, col(Device.id) == col(RolloutDevice.device_id))
                    .where(col(Device.farm_id).in_(seen)))
        query = query.where(col(Rollout.id).in_(touching))
    rows = session.exec(query.order_by(col(Rollout.id).desc()).limit(limit)).all()
    return [rollout_public(session, r, seen) for r in rows]


@router.get(
    "/{rollout_id}",
    responses={404: {"model": Message, "description": "No such rollout"}},
    summary="One rollout: phases, each device's state and gate figures, reason, actions",
)
def get_rollout(rollout_id: RolloutId, session: SessionDep, caller: CallerDep,
                settings: SettingsDep) -> RolloutDetail:
    return rollout_detail(session, _get(session, rollout_id, caller), settings.offline_after_s,
                          caller.farm_ids)


@router.post(
    "/{rollout_id}/{action}",
    responses={404: {"model": Message, "description": "No such rollout"},
               409: {"model": Message, "description": "The action does not apply in this "
                     "state, or the fleet runs without MQTT"},
               **TOO_LARGE},
    summary="pause, resume (accepting what held it), abort (withdraws offers) or approve the "
    "next phase (technician)",
    max_body_size=16 * 1024,
)
async def act(
    rollout_id: RolloutId,
    action: Annotated[Literal["pause", "resume", "abort", "approve"],
                      Path(description="What to do")],
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: TechnicianToken,
    address: AddressDep,
    body: RolloutAction | None = None,
) -> RolloutDetail:
    _get(session, rollout_id, token)
    allowed = token.farms_with("technician")
    if allowed is not None and not _touched_farms(session, rollout_id) <= allowed:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "needs the technician role in every "
                            "farm the rollout touches")
    engine = _engine(request)
    try:
        await run_in_threadpool(engine.act, rollout_id, action, actor(token),
                                body.note if body else "")
    except PlanError as exc:
        raise _plan_error(exc) from None
    audit.record(session, token, f"rollout.{action}", f"rollout {rollout_id}", address,
                 note=body.note if body else "")
    session.commit()
    session.expire_all()
    return rollout_detail(session, _get(session, rollout_id), settings.offline_after_s,
                          token.farm_ids)
