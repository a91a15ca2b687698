"""The dashboard's pages: sign-in, overview, field, node, detections, scouting, alerts, models,
farm settings.

Pages read the fleet's tables through :mod:`fleet.web.dashboard.data`; every change (a verdict, an
acknowledgement, a rollout action, a scouting photo) is a call from the browser to the REST API,
which checks the person's role itself.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Annotated
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import col, select

from agrifleet.fleet.devices.tables import Device
from agrifleet.fleet.modelops.registry.publishers import OTHER_PUBLISHER, shown_publisher
from agrifleet.fleet.modelops.registry.tables import ModelPackage
from agrifleet.fleet.modelops.rollouts.tables import Rollout, RolloutDevice
from agrifleet.fleet.modelops.rollouts.views import rollout_detail
from agrifleet.fleet.telemetry import queries
from agrifleet.fleet.telemetry.tables import LatestReading, ReadingBucket
from agrifleet.fleet.web.api.deps import SessionDep, SettingsDep
from agrifleet.fleet.web.dashboard import alert_rows, charts, data, fieldmap, risk_view, session
from agrifleet.fleet.web.dashboard.i18n import LANGUAGES
from agrifleet.fleet.web.dashboard.render import language, page
from agrifleet.fleet.web.dashboard.session import Principal
from agrifleet.models.shipped import default_model_dir

router = APIRouter(include_in_schema=False)
LOGIN_CSRF = "agrifleet_login_csrf"
MAX_FORM = 4096


class SignInNeeded(Exception):
    """Raised by :func:`signed_in`; answered with a redirect to /login."""

    def __init__(self, target: str) -> None:
        self.target = target


def signed_in(request: Request) -> Principal:
    who = session.current(request)
    if who is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInNeeded(target)
    chosen = request.query_params.get("lang")
    if chosen in LANGUAGES and chosen != who.language:
        session.remember_language(request, who, chosen)
        who.language = chosen
    return who


Who = Annotated[Principal, Depends(signed_in)]


def _safe_next(target: str | None) -> str:
    """Only a path of this site (never //host or a scheme) is followed after sign-in."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


# -- sign-in -------------------------------------------------------------------------------


@router.get("/login")
def login_form(request: Request) -> Response:
    token = secrets.token_urlsafe(16)
    response = page(request, "login.html", None, next=_safe_next(request.query_params.get("next")),
                    login_csrf=token, error=None)
    response.set_cookie(LOGIN_CSRF, token, httponly=True, samesite="strict", max_age=3600)
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    body = await request.body()
    if len(body) > MAX_FORM:
        raise HTTPException(413, "form too large")
    form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    target = _safe_next(form.get("next"))
    expected = request.cookies.get(LOGIN_CSRF, "")
    if not expected or not secrets.compare_digest(expected, form.get("csrf_token", "")):
        return _login_again(request, target, "expired", 403)
    status_code, answer = session.sign_in(request, form.get("email", ""), form.get("password", ""))
    if status_code != 200:
        again = _login_again(request, target, "throttled" if status_code == 429 else "wrong",
                             status_code)
        if "retry-after" in answer.headers:
            again.headers["Retry-After"] = answer.headers["retry-after"]
        return again
    response = RedirectResponse(target, status_code=303)
    for name, value in answer.raw_headers:  # the session and CSRF cookies the login set
        if name == b"set-cookie":
            response.raw_headers.append((name, value))
    response.delete_cookie(LOGIN_CSRF)
    return response


def _login_again(request: Request, target: str, error: str, status_code: int) -> Response:
    token = secrets.token_urlsafe(16)
    response = page(request, "login.html", None, status_code=status_code, next=target,
                    login_csrf=token, error=error)
    response.set_cookie(LOGIN_CSRF, token, httponly=True, samesite="strict", max_age=3600)
    return response


@router.post("/logout")
async def logout(request: Request, who: Who) -> Response:
    form = {k: v[0] for k, v in parse_qs((await request.body())[:MAX_FORM].decode()).items()}
    if not session.csrf_ok(who, form.get("csrf_token")):
        raise HTTPException(403, "missing or wrong CSRF token")
    session.sign_out(request, who)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(session.SESSION_COOKIE)
    response.delete_cookie(session.CSRF_COOKIE)
    return response


# -- pages ---------------------------------------------------------------------------------


@router.get("/")
def overview(request: Request, who: Who, db: SessionDep, settings: SettingsDep) -> Response:
    found = data.fields(db, who, settings.offline_after_s)
    return page(request, "overview.html", who, fields=found,
                alert_list=alert_rows.rows(db, who, states=("active",), limit=10))


@router.get("/fields/{field_id}")
def field_page(field_id: str, request: Request, who: Who, db: SessionDep,
               settings: SettingsDep) -> Response:
    wanted = None if field_id == "-" else int(field_id) if field_id.isdigit() else -1
    found = next((f for f in data.fields(db, who, settings.offline_after_s) if f.id == wanted),
                 None)
    if found is None:
        return page(request, "missing.html", who, status_code=404)
    pins = [fieldmap.Pin(n.device.id, n.device.name, n.device.position.latitude,
                         n.device.position.longitude, n.device.online,
                         f"/nodes/{quote(n.device.id)}")
            for n in found.nodes if n.device.position is not None]
    risk = risk_view.rows(db, found.id, language(request, who), settings.dashboard_timezone) \
        if found.id is not None else []
    return page(request, "field.html", who, field=found, pins=pins, fieldmap=fieldmap,
                outline=found.outline, tile_url=settings.map_tile_url, risk=risk)


def _span(value: str | None) -> charts.Span:
    return value if value in charts.SPANS else "day"


@router.get("/nodes/{device_id}")
def node_page(device_id: str, request: Request, who: Who, db: SessionDep,
              settings: SettingsDep) -> Response:
    device = data.visible_device(db, who, device_id)
    if device is None:
        return page(request, "missing.html", who, status_code=404)
    detail = queries.device_detail(db, device, settings.offline_after_s)
    span = _span(request.query_params.get("span"))
    since, until, bucket = charts.window(span)
    units = {(r.sensor, r.quantity): r.unit for r in db.exec(
        select(LatestReading).where(LatestReading.device_id == device.id))}
    buckets = [ReadingBucket.model_validate(b) for b in
               queries.reading_buckets(db, device.id, None, None, since, until, 5000, bucket)]
    series = [s for s in charts.group(buckets, units)
              if s.quantity not in ("latitude", "longitude")]
    found = data.detections(db, who, device_ids=[device.id], limit=12)
    return page(request, "node.html", who, device=detail, span=span, spans=list(charts.SPANS),
                series=series, since=since, until=until, charts=charts,
                detections=found, events=data.events(db, device.id),
                field=data.field_row(db, who, device.field_id))


def _float(value: str | None, low: float, high: float) -> float | None:
    try:
        number = float(value) if value else None
    except ValueError:
        return None
    return None if number is None or not low <= number <= high else number


def _date(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC) if value else None
    except ValueError:
        return None


@router.get("/detections")
def detections_page(request: Request, who: Who, db: SessionDep) -> Response:
    q = request.query_params
    fields = data.field_choices(db, who)
    every = [i for f in fields for i in f.device_ids]
    ids = every
    chosen_field = q.get("field")
    if chosen_field:
        wanted = None if chosen_field == "-" else (
            int(chosen_field) if chosen_field.isdigit() else -1)
        ids = [i for f in fields if f.id == wanted for i in f.device_ids]
    since, until = _date(q.get("since")), _date(q.get("until"))
    if until is not None:
        until += timedelta(days=1)
    found = data.detections(db, who, device_ids=ids, label=q.get("label") or None,
                            crop=q.get("crop") or None,
                            min_confidence=_float(q.get("min_confidence"), 0, 1),
                            since=since, until=until)
    all_labels = data.labels(db, every)
    crops = sorted({label.partition("___")[0] for label in all_labels if "___" in label})
    return page(request, "detections.html", who, detections=found, fields=fields,
                verdicts=data.verdicts(db, found), labels=all_labels, crops=crops, q=q,
                all_labels=model_labels(), names=data.device_names(db, who))


@router.get("/scouting")
def scouting_page(request: Request, who: Who, db: SessionDep, settings: SettingsDep) -> Response:
    found = data.fields(db, who, settings.offline_after_s)
    return page(request, "scouting.html", who, fields=found, all_labels=model_labels())


@router.get("/alerts")
def alerts_page(request: Request, who: Who, db: SessionDep) -> Response:
    return page(request, "alerts.html", who, alert_list=alert_rows.rows(db, who, limit=100),
                acknowledge=True)


@router.get("/models")
def models_page(request: Request, who: Who, db: SessionDep, settings: SettingsDep) -> Response:
    packages = list(db.exec(select(ModelPackage).order_by(col(ModelPackage.name),
                                                          col(ModelPackage.id))))
    touching = (select(RolloutDevice.rollout_id)
                .join(Device, col(Device.id) == col(RolloutDevice.device_id))
                .where(Device.farm_id == who.farm_id))
    rollouts = [rollout_detail(db, r, settings.offline_after_s, {who.farm_id}) for r in db.exec(
        select(Rollout).where(col(Rollout.id).in_(touching))
        .order_by(col(Rollout.id).desc()).limit(20))]
    # a publisher's e-mail only for those who share a farm with them (else nothing)
    publishers = {p.published_by: shown_publisher(db, set(who.roles), p.published_by)
                  for p in packages}
    return page(request, "models.html", who, packages=packages, rollouts=rollouts,
                can_steer=who.is_technician, names=data.device_names(db, who),
                publishers={k: v for k, v in publishers.items() if v != OTHER_PUBLISHER})


@router.get("/farm")
def farm_page(request: Request, who: Who, db: SessionDep, settings: SettingsDep) -> Response:
    """The farm in view: how long its data is kept, and its consent to training."""
    from agrifleet.fleet.farmdata.policy import FarmDataPolicy, defaults_of, public

    policy = public(who.farm_id, db.get(FarmDataPolicy, who.farm_id) if who.farm_id else None,
                    defaults_of(settings))
    return page(request, "farm.html", who, policy=policy.model_dump(),
                is_admin=who.role == "admin")


@lru_cache(maxsize=1)
def model_labels() -> tuple[str, ...]:
    """The shipped model's class labels: what a person may name as the right disease."""
    path = default_model_dir() / "labels.txt"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return ()
    return tuple(line.strip() for line in lines if line.strip())
