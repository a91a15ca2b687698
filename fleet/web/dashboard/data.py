"""What the pages show, read from the fleet's tables and scoped to the signed-in person's farm."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from agrifleet.fleet.devices.tables import Device, DevicePublic
from agrifleet.fleet.modelops.tables import DetectionVerdict
from agrifleet.fleet.people.tables import Field_
from agrifleet.fleet.telemetry import queries
from agrifleet.fleet.telemetry.tables import Detection, Event
from agrifleet.fleet.web.dashboard.session import Principal

#: Detections newer than this count as "found in the last days" on the overview.
RECENT_DISEASE = timedelta(days=7)
UNASSIGNED = ""
#: Nodes per field on the overview (a co-operative's field may hold hundreds).
OVERVIEW_NODES = 25


@dataclass
class NodeRow:
    device: DevicePublic
    sensors_down: list[str] = dataclasses.field(default_factory=list)


@dataclass
class FieldSummary:
    name: str  # "" for the devices in no field
    id: int | None = None
    crop: str = ""
    outline: dict[str, Any] | None = None
    nodes: list[NodeRow] = dataclasses.field(default_factory=list)
    diseases: dict[str, int] = dataclasses.field(default_factory=dict)  # label → recent count

    @property
    def online(self) -> int:
        return sum(1 for n in self.nodes if n.device.online)

    def at_a_glance(self, limit: int = OVERVIEW_NODES) -> list[NodeRow]:
        """The nodes the overview lists: those that need a look (offline, a sensor not
        answering) first, then the others, at most ``limit``; the field's page lists all."""
        return sorted(self.nodes, key=lambda n: (n.device.online and not n.sensors_down,))[:limit]


def devices(session: Session, who: Principal, offline_after_s: int) -> list[DevicePublic]:
    """Every device of the farm in view, by id."""
    if not who.farm_id:
        return []
    rows = queries.list_devices(session, 100_000, 0, offline_after_s, {who.farm_id})
    return [DevicePublic.model_validate(row) for row in rows]


def visible_device(session: Session, who: Principal, device_id: str) -> Device | None:
    """The device if it is in the farm in view, else None (shown as not found)."""
    device = session.get(Device, device_id)
    return device if device is not None and device.farm_id == who.farm_id else None


def device_names(session: Session, who: Principal) -> dict[str, str]:
    """Device id → the name the pages show (the id when it has none), for the farm in view."""
    if not who.farm_id:
        return {}
    return {device_id: name or device_id for device_id, name in session.exec(
        select(Device.id, Device.name).where(Device.farm_id == who.farm_id))}


def field_row(session: Session, who: Principal, field_id: int | None) -> Field_ | None:
    """One of the farm's fields, or None."""
    found = session.get(Field_, field_id) if field_id else None
    return found if found is not None and found.farm_id == who.farm_id else None


def sensors_down(session: Session, device_ids: list[str]) -> dict[str, list[str]]:
    """Per device, the sensors whose newest sensor_down/sensor_recovered event says down."""
    if not device_ids:
        return {}
    newest = (
        select(Event.device_id, Event.sensor, func.max(Event.id).label("last"))
        .where(col(Event.device_id).in_(device_ids),
               col(Event.code).in_(("sensor_down", "sensor_recovered")))
        .group_by(col(Event.device_id), col(Event.sensor))
        .subquery()
    )
    rows = session.exec(
        select(Event.device_id, Event.sensor).join(newest, col(Event.id) == newest.c.last)
        .where(Event.code == "sensor_down")
    ).all()
    out: dict[str, list[str]] = defaultdict(list)
    for device_id, sensor in rows:
        out[device_id].append(sensor or "?")
    return dict(out)


def recent_diseases(session: Session, device_ids: list[str], now: datetime
                    ) -> dict[str, dict[str, int]]:
    """Per device, detections per label (not healthy, not uncertain) over RECENT_DISEASE."""
    if not device_ids:
        return {}
    rows = session.exec(
        select(Detection.device_id, Detection.label, func.count())
        .where(col(Detection.device_id).in_(device_ids), col(Detection.ts) >= now - RECENT_DISEASE,
               col(Detection.uncertain).is_(False), ~col(Detection.label).contains("healthy"))
        .group_by(col(Detection.device_id), col(Detection.label))
    ).all()
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for device_id, label, n in rows:
        out[device_id][label] = int(n)
    return dict(out)


def fields(session: Session, who: Principal, offline_after_s: int,
           now: datetime | None = None) -> list[FieldSummary]:
    """The farm's fields (with or without nodes) and their nodes, recent diseases and silent
    sensors, by name; the nodes in no field last."""
    now = now or datetime.now(UTC)
    found = devices(session, who, offline_after_s)
    ids = [d.id for d in found]
    down, sick = sensors_down(session, ids), recent_diseases(session, ids, now)
    by_id: dict[int | None, FieldSummary] = {
        f.id: FieldSummary(f.name, f.id, f.crop, f.outline)
        for f in session.exec(select(Field_).where(Field_.farm_id == who.farm_id))
    } if who.farm_id else {}
    for d in found:
        summary = by_id.get(d.field_id)
        if summary is None:
            summary = by_id.setdefault(None, FieldSummary(UNASSIGNED))
        summary.nodes.append(NodeRow(d, down.get(d.id, [])))
        for label, n in sick.get(d.id, {}).items():
            summary.diseases[label] = summary.diseases.get(label, 0) + n
    return sorted(by_id.values(), key=lambda f: (f.id is None, f.name.lower()))


@dataclass
class FieldChoice:
    """A field of the gallery's filter and its devices; ``id`` None for the nodes in no field."""

    id: int | None
    name: str
    device_ids: list[str] = dataclasses.field(default_factory=list)


def field_choices(session: Session, who: Principal) -> list[FieldChoice]:
    """The farm's fields with the ids of their devices, by name, the nodes in no field last:
    two plain queries, for pages that need no node's state."""
    if not who.farm_id:
        return []
    by_id = {f.id: FieldChoice(f.id, f.name) for f in
             session.exec(select(Field_).where(Field_.farm_id == who.farm_id))}
    for device_id, field_id in session.exec(select(Device.id, Device.field_id)
                                            .where(Device.farm_id == who.farm_id)):
        by_id.setdefault(field_id if field_id in by_id else None,
                         FieldChoice(None, UNASSIGNED)).device_ids.append(device_id)
    return sorted(by_id.values(), key=lambda f: (f.id is None, f.name.lower()))


def detections(session: Session, who: Principal, *, device_ids: list[str] | None = None,
               label: str | None = None, crop: str | None = None,
               min_confidence: float | None = None, since: datetime | None = None,
               until: datetime | None = None, limit: int = 48) -> list[Detection]:
    """Detections of the farm, newest first, filtered as the gallery asks."""
    query = select(Detection).order_by(col(Detection.ts).desc(), col(Detection.id).desc())
    if device_ids is not None:
        query = query.where(col(Detection.device_id).in_(device_ids))
    if label:
        query = query.where(Detection.label == label)
    if crop:
        query = query.where(col(Detection.label).startswith(crop + "___"))
    if min_confidence is not None:
        query = query.where(col(Detection.confidence) >= min_confidence)
    if since is not None:
        query = query.where(col(Detection.ts) >= since)
    if until is not None:
        query = query.where(col(Detection.ts) < until)
    # The thumbnail column is not loaded: the gallery links to the image route.
    return list(session.exec(query.limit(limit)).all())


def verdicts(session: Session, detections: list[Detection]) -> dict[int, DetectionVerdict]:
    """The verdicts already given on these detections, by detection id."""
    ids = [d.id for d in detections if d.id is not None]
    if not ids:
        return {}
    rows = session.exec(select(DetectionVerdict)
                        .where(col(DetectionVerdict.detection_id).in_(ids))).all()
    return {v.detection_id: v for v in rows}


def labels(session: Session, device_ids: list[str]) -> list[str]:
    """Every label the farm's detections carry, for the gallery's filter."""
    if not device_ids:
        return []
    rows = session.exec(select(Detection.label).where(col(Detection.device_id).in_(device_ids))
                        .distinct().order_by(col(Detection.label)).limit(500)).all()
    return list(rows)


def events(session: Session, device_id: str, limit: int = 20) -> list[Event]:
    return list(session.exec(select(Event).where(Event.device_id == device_id)
                             .order_by(col(Event.id).desc()).limit(limit)).all())


def as_dict(obj: Any) -> dict[str, Any]:
    return obj.model_dump() if hasattr(obj, "model_dump") else dict(obj)
