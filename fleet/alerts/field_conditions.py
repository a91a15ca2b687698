"""Conditions of the field kinds: a disease risk model at a level, a disease spreading.

Each finder returns the conditions that hold, keyed ("", "field-ID/…") like the device kinds'
(device id, condition) with the field's farm and id in the params, and the keys whose state is
unknown (kept open, never cleared on missing data).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select as select_columns
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from agrifleet.fleet.alerts.tables import AlertRule
from agrifleet.fleet.devices.tables import Device
from agrifleet.fleet.modelops.tables import DetectionVerdict, Observation
from agrifleet.fleet.people.tables import Field_
from agrifleet.fleet.risk import registry
from agrifleet.fleet.risk.assess import field_risk
from agrifleet.fleet.risk.outcome import at_least
from agrifleet.fleet.telemetry.tables import Detection
from agrifleet.inference.parts import crop_name, disease_name

Conditions = dict[tuple[str, str], dict[str, Any]]


def _fields(session: Session, rule: AlertRule) -> list[Field_]:
    query = select(Field_)
    if rule.field_id is not None:
        query = query.where(col(Field_.id) == rule.field_id)
    if rule.farm_id is not None:
        query = query.where(col(Field_.farm_id) == rule.farm_id)
    return list(session.exec(query.order_by(col(Field_.id))).all())


def risk_conditions(session: Session, rule: AlertRule,
                    now: datetime) -> tuple[Conditions, set[tuple[str, str]]]:
    """Fields and models at ``min_risk`` or above yesterday or today (UTC)."""
    level = rule.min_risk or "high"
    today = now.astimezone(UTC).date()
    yesterday = today - timedelta(days=1)
    found: Conditions = {}
    unknown: set[tuple[str, str]] = set()
    for field in _fields(session, rule):
        days = field_risk(session, field, yesterday, today, now=now)
        for model in registry.models_for(field.crop):
            if rule.model is not None and model != rule.model:
                continue
            key = ("", f"field-{field.id}/{model}")
            mine = [d for d in days if d.model == model]
            hits = [d for d in mine if at_least(d.risk, level)]
            if hits:
                worst = max(hits, key=lambda d: ("low", "moderate", "high").index(d.risk))
                found[key] = {
                    "field_id": field.id, "farm_id": field.farm_id, "field": field.name,
                    "crop": field.crop, "model": model, "disease": registry.disease_of(model),
                    "risk": worst.risk, "date": worst.date.isoformat(), "min_risk": level,
                    "reason": worst.reason,
                }
            elif any(d.date == yesterday and d.risk == "unknown" for d in mine):
                unknown.add(key)
    return found, unknown


def spread_conditions(session: Session, rule: AlertRule, now: datetime) -> Conditions:
    """Fields where one disease was seen on ``min_nodes`` nodes or scouting photos lately."""
    since = now - timedelta(seconds=rule.window_s or 0.0)
    fields = {f.id: f for f in _fields(session, rule)}
    if not fields:
        return {}
    floor = rule.min_confidence or 0.0
    rejected = select(DetectionVerdict.detection_id).where(
        col(DetectionVerdict.verdict) == "rejected")
    where: list[ColumnElement[bool]] = [
        col(Detection.ts) >= since, ~col(Detection.uncertain), col(Detection.confidence) >= floor,
        ~col(Detection.label).endswith("healthy"), col(Detection.label) != "uncertain",
        col(Device.field_id).in_(list(fields)), ~col(Detection.id).in_(rejected),
    ]
    if rule.label is not None:
        where.append(col(Detection.label) == rule.label)
    sources: dict[tuple[int, str], set[str]] = {}
    rows = session.execute(
        select_columns(col(Device.field_id), col(Detection.label), col(Detection.device_id))
        .join(Device, col(Device.id) == col(Detection.device_id)).where(*where).distinct()
    ).all()
    for field_id, label, device_id in rows:
        sources.setdefault((field_id, label), set()).add(f"node:{device_id}")
    scouted: list[ColumnElement[bool]] = [
        col(Observation.taken_at) >= since, ~col(Observation.uncertain),
        col(Observation.confidence) >= floor, ~col(Observation.label).endswith("healthy"),
        col(Observation.label) != "uncertain", col(Observation.field_id).in_(list(fields)),
    ]
    if rule.label is not None:
        scouted.append(col(Observation.label) == rule.label)
    for field_id, label, obs_id in session.execute(
        select_columns(col(Observation.field_id), col(Observation.label), col(Observation.id))
        .where(*scouted)
    ).all():
        sources.setdefault((field_id, label), set()).add(f"photo:{obs_id}")
    found: Conditions = {}
    for (field_id, label), seen in sorted(sources.items()):
        if len(seen) < (rule.min_nodes or 1):
            continue
        field = fields[field_id]
        found[("", f"field-{field_id}/{label}"[:200])] = {
            "field_id": field_id, "farm_id": field.farm_id, "field": field.name,
            "label": label, "crop": crop_name(label), "disease": disease_name(label),
            "nodes": sorted(s.removeprefix("node:") for s in seen if s.startswith("node:")),
            "photos": sum(1 for s in seen if s.startswith("photo:")),
            "sources": len(seen), "min_nodes": rule.min_nodes, "window_s": rule.window_s,
        }
    return found
