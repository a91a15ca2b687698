"""``/api/v1/alerts`` and ``/api/v1/alert-rules``: what is wrong, who saw it, the rules."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, status
from sqlalchemy import or_
from sqlmodel import Session, col, select

from agrifleet.fleet.alerts.evaluate import clear_rule_alerts, newest_detection_id
from agrifleet.fleet.alerts.rules import (
    PARAMETERS,
    AlertPublic,
    AlertRuleCreate,
    AlertRulePublic,
    AlertRuleUpdate,
    check_kind,
)
from agrifleet.fleet.alerts.tables import OPEN_STATES, Alert, AlertKind, AlertRule, AlertState
from agrifleet.fleet.devices.scope import in_farms
from agrifleet.fleet.devices.tables import Device
from agrifleet.fleet.people.auth.principal import Principal
from agrifleet.fleet.people.tables import Field_
from agrifleet.fleet.web.api.deps import (
    DEVICE_ID,
    CallerDep,
    CurrentToken,
    SessionDep,
    TechnicianToken,
)
from agrifleet.fleet.web.api.errors import Message, too_large, validation_error
from agrifleet.fleet.web.api.params import MAX_BODY_BYTES, MAX_ID, Limit, Offset
from agrifleet.fleet.web.api.routes.rollouts import actor

router = APIRouter(prefix="/alerts", tags=["alerts"])
rules_router = APIRouter(prefix="/alert-rules", tags=["alerts"])

AlertId = Annotated[int, Path(ge=1, le=MAX_ID, description="Alert id")]
RuleId = Annotated[int, Path(ge=1, le=MAX_ID, description="Alert rule id")]
Responses = dict[int | str, dict[str, Any]]
NOT_FOUND: Responses = {404: {"model": Message, "description": "No such alert"}}
CONFLICT: Responses = {409: {"model": Message, "description": "The alert is already cleared"}}


def _farm_of(session: Session, alert: Alert) -> int | None:
    device = session.get(Device, alert.device_id)
    return device.farm_id if device is not None else alert.farm_id


def _alert(session: Session, alert_id: int, caller: Principal, role: str = "viewer") -> Alert:
    """The alert of a device in one of the caller's farms (404 otherwise), with ``role`` there
    (403 below it)."""
    alert = session.get(Alert, alert_id)
    farm = None if alert is None else _farm_of(session, alert)
    if alert is None or (caller.farm_ids is not None and farm not in caller.farm_ids):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert {alert_id}")
    if farm is not None and not caller.may(role, farm):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"needs the {role} role in farm {farm}")
    return alert


@router.get("", summary="Alerts, newest first, filtered by state, device, field and kind")
def list_alerts(
    session: SessionDep,
    caller: CallerDep,
    state: Annotated[AlertState | Literal["open"] | None,
                     Query(description="active, acknowledged, cleared, or open (active or "
                           "acknowledged)")] = None,
    device: Annotated[str | None, Query(max_length=64, pattern=DEVICE_ID,
                                        description="Device id")] = None,
    field: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Field id")] = None,
    kind: Annotated[AlertKind | None, Query(description="disease, reading_range, offline, "
                                            "backlog, risk or disease_spread")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[AlertPublic]:
    query = select(Alert)
    if caller.farm_ids is not None:  # a device's alert by its device, a field's by its farm
        query = query.where(or_(*in_farms(Alert.device_id, caller.farm_ids),
                                (col(Alert.device_id) == "")
                                & col(Alert.farm_id).in_(caller.farm_ids)))
    if state == "open":
        query = query.where(col(Alert.state).in_(OPEN_STATES))
    elif state is not None:
        query = query.where(col(Alert.state) == state)
    if device is not None:
        query = query.where(col(Alert.device_id) == device)
    if field is not None:
        query = query.where(col(Alert.field_id) == field)
    if kind is not None:
        query = query.where(col(Alert.kind) == kind)
    rows = session.exec(query.order_by(col(Alert.last_seen).desc(), col(Alert.id).desc())
                        .offset(offset).limit(limit)).all()
    return [AlertPublic.model_validate(a) for a in rows]


@router.get("/{alert_id}", responses=NOT_FOUND, summary="One alert")
def get_alert(alert_id: AlertId, session: SessionDep, caller: CallerDep) -> AlertPublic:
    return AlertPublic.model_validate(_alert(session, alert_id, caller))


@router.post("/{alert_id}/acknowledge", responses={**NOT_FOUND, **CONFLICT},
             summary="Say you have seen it (any role); acknowledging twice keeps the first")
def acknowledge(alert_id: AlertId, session: SessionDep, token: CurrentToken) -> AlertPublic:
    alert = _alert(session, alert_id, token)
    if alert.state == "cleared":
        raise HTTPException(status.HTTP_409_CONFLICT, f"alert {alert_id} is already cleared")
    if alert.state == "active":
        alert.state = "acknowledged"
        alert.acknowledged_by = actor(token)
        alert.acknowledged_at = datetime.now(UTC)
        session.add(alert)
        session.commit()
        session.refresh(alert)
    return AlertPublic.model_validate(alert)


@router.post("/{alert_id}/clear", responses={**NOT_FOUND, **CONFLICT},
             summary="Clear it by hand (technician); it reopens if the condition holds")
def clear(alert_id: AlertId, session: SessionDep, token: TechnicianToken) -> AlertPublic:
    alert = _alert(session, alert_id, token, "technician")
    if alert.state == "cleared":
        raise HTTPException(status.HTTP_409_CONFLICT, f"alert {alert_id} is already cleared")
    alert.state = "cleared"
    alert.open_key = None
    alert.cleared_at = datetime.now(UTC)
    alert.cleared_by = actor(token)
    alert.cleared_reason = "by_hand"
    session.add(alert)
    session.commit()
    session.refresh(alert)
    return AlertPublic.model_validate(alert)


# --- rules -----------------------------------------------------------------------------------


def _rule(session: Session, rule_id: int, caller: Principal, role: str = "viewer") -> AlertRule:
    """A rule of one of the caller's farms, or a fleet-wide one (404 otherwise); to change it,
    ``role`` in its farm (a fleet-wide rule: a service token's role)."""
    rule = session.get(AlertRule, rule_id)
    if rule is None or (caller.farm_ids is not None and rule.farm_id is not None
                        and rule.farm_id not in caller.farm_ids):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert rule {rule_id}")
    _may_change(caller, rule.farm_id, role)
    return rule


def _may_change(caller: Principal, farm_id: int | None, role: str) -> None:
    if role == "viewer":
        return
    if farm_id is None and caller.farm_ids is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "a rule for every farm (no farm_id) is "
                            "made and changed with a service token; name your farm's farm_id")
    if farm_id is not None and not caller.may(role, farm_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"needs the {role} role in farm {farm_id}")


RULE_NOT_FOUND: Responses = {404: {"model": Message, "description": "No such rule"}}


@rules_router.get("", summary="Alert rules, by id")
def list_rules(session: SessionDep, caller: CallerDep, limit: Limit = 1000,
               offset: Offset = 0) -> list[AlertRulePublic]:
    query = select(AlertRule)
    if caller.farm_ids is not None:
        query = query.where(col(AlertRule.farm_id).is_(None)
                            | col(AlertRule.farm_id).in_(caller.farm_ids))
    rows = session.exec(query.order_by(col(AlertRule.id)).offset(offset).limit(limit)).all()
    return [AlertRulePublic.model_validate(r) for r in rows]


@rules_router.post("", status_code=status.HTTP_201_CREATED,
                   responses={404: {"model": Message, "description": "No such device or farm "
                                    "(of the caller's)"},
                              409: {"model": Message, "description": "The device is in "
                                    "another farm than farm_id"},
                              **too_large(MAX_BODY_BYTES)}, max_body_size=MAX_BODY_BYTES,
                   summary="A new rule (technician); a disease rule reads detections from now")
def create_rule(body: AlertRuleCreate, session: SessionDep,
                token: TechnicianToken) -> AlertRulePublic:
    if body.device_id is not None:
        device = session.get(Device, body.device_id)
        if device is None or (token.farm_ids is not None and device.farm_id not in token.farm_ids):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown device {body.device_id!r}")
        if body.farm_id not in (None, device.farm_id):
            raise HTTPException(status.HTTP_409_CONFLICT, "the device is in another farm "
                                "than farm_id")
        body.farm_id = device.farm_id
    if body.field_id is not None:
        field = session.get(Field_, body.field_id)
        if field is None or (token.farm_ids is not None and field.farm_id not in token.farm_ids):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown field {body.field_id}")
        if body.farm_id not in (None, field.farm_id):
            raise validation_error(("body", "farm_id"), "the field is in another farm",
                                   body.farm_id)
        body.farm_id = field.farm_id
    if body.farm_id is not None and token.farm_ids is not None \
            and body.farm_id not in token.farm_ids:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no farm {body.farm_id}")
    _may_change(token, body.farm_id, "technician")
    rule = AlertRule.model_validate(body, update={"created_by": actor(token)})
    if rule.kind == "disease":
        rule.last_detection_id = newest_detection_id(session)
    session.add(rule)
    session.commit()
    session.refresh(rule)
    return AlertRulePublic.model_validate(rule)


@rules_router.get("/{rule_id}", responses=RULE_NOT_FOUND, summary="One alert rule")
def get_rule(rule_id: RuleId, session: SessionDep, caller: CallerDep) -> AlertRulePublic:
    return AlertRulePublic.model_validate(_rule(session, rule_id, caller))


@rules_router.patch("/{rule_id}", responses={**RULE_NOT_FOUND, **too_large(MAX_BODY_BYTES)},
                    max_body_size=MAX_BODY_BYTES,
                    summary="Change a rule (technician); its open alerts are cleared")
def update_rule(rule_id: RuleId, body: AlertRuleUpdate, session: SessionDep,
                token: TechnicianToken) -> AlertRulePublic:
    rule = _rule(session, rule_id, token, "technician")
    # A null name or enabled leaves it as it is (neither column may be empty).
    changes = {key: value for key, value in body.model_dump(exclude_unset=True).items()
               if value is not None or key not in ("name", "enabled", "critical")}
    merged = {**{k: getattr(rule, k) for k in PARAMETERS}, **changes}
    try:
        checked = check_kind(rule.kind, merged)
    except ValueError as exc:
        raise validation_error(("body",), str(exc), changes) from None
    for key, value in {**changes, **{k: checked.get(k) for k in PARAMETERS}}.items():
        setattr(rule, key, value)
    now = datetime.now(UTC)
    rule.updated_at = now
    if set(changes) - {"name", "critical"}:
        clear_rule_alerts(session, rule_id, now, actor(token))
    session.add(rule)
    session.commit()
    session.refresh(rule)
    return AlertRulePublic.model_validate(rule)


@rules_router.delete("/{rule_id}", status_code=status.HTTP_204_NO_CONTENT,
                     responses=RULE_NOT_FOUND,
                     summary="Delete a rule (technician); its alerts are cleared and kept")
def delete_rule(rule_id: RuleId, session: SessionDep, token: TechnicianToken) -> None:
    rule = _rule(session, rule_id, token, "technician")
    clear_rule_alerts(session, rule_id, datetime.now(UTC), actor(token))
    session.delete(rule)
    session.commit()

