"""``/api/v1/rollouts``: start a phased rollout, follow it, pause, resume, abort or approve it."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Request, status
from sqlmodel import col, select
from starlette.concurrency import run_in_threadpool

from fleet.api.deps import SessionDep, SettingsDep, TechnicianToken
from fleet.api.errors import too_large
from fleet.api.params import MAX_ID, Limit
from fleet.api.routes.models import refusal
from fleet.models import ApiToken, Message
from fleet.rollouts.engine import RolloutEngine
from fleet.rollouts.plan import PlanError
from fleet.rollouts.schemas import RolloutAction, RolloutCreate, RolloutDetail, RolloutPublic
from fleet.rollouts.tables import Rollout
from fleet.rollouts.views import rollout_detail, rollout_public

router = APIRouter(prefix="/rollouts", tags=["rollouts"])

RolloutId = Annotated[int, Path(ge=1, le=MAX_ID, description="Rollout id")]
#: A rollout body names its devices: room for some thousands of ids.
MAX_ROLLOUT_BODY = 1024 * 1024
TOO_LARGE = too_large(MAX_ROLLOUT_BODY)


def actor(token: ApiToken) -> str:
    """How the record names a person: the token's name and role."""
    return f"{token.name or f'token {token.id}'} ({token.role})"


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


def _get(session: SessionDep, rollout_id: int) -> Rollout:
    rollout = session.get(Rollout, rollout_id)
    if rollout is None:
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
                        settings: SettingsDep, token: TechnicianToken) -> RolloutDetail:
    engine = _engine(request)
    try:
        rid = await run_in_threadpool(engine.create, body, actor(token))
    except PlanError as exc:
        raise _plan_error(exc) from None
    return rollout_detail(session, _get(session, rid), settings.offline_after_s)


@router.get("", summary="Rollouts, newest first")
def list_rollouts(session: SessionDep, limit: Limit = 100) -> list[RolloutPublic]:
    rows = session.exec(select(Rollout).order_by(col(Rollout.id).desc()).limit(limit)).all()
    return [rollout_public(session, r) for r in rows]


@router.get(
    "/{rollout_id}",
    responses={404: {"model": Message, "description": "No such rollout"}},
    summary="One rollout: phases, each device's state and gate figures, reason, actions",
)
def get_rollout(rollout_id: RolloutId, session: SessionDep,
                settings: SettingsDep) -> RolloutDetail:
    return rollout_detail(session, _get(session, rollout_id), settings.offline_after_s)


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
    body: RolloutAction | None = None,
) -> RolloutDetail:
    engine = _engine(request)
    try:
        await run_in_threadpool(engine.act, rollout_id, action, actor(token),
                                body.note if body else "")
    except PlanError as exc:
        raise _plan_error(exc) from None
    session.expire_all()
    return rollout_detail(session, _get(session, rollout_id), settings.offline_after_s)
