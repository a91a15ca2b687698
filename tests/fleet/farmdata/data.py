"""Two farms with known data of every kind a farm export, erase or training set reads: devices
on fields, a member, readings (and so rollups), detections with thumbnails, a verdict, events,
scouting observations with their photos on disk and verdicts, an alert, and audit entries."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from PIL import Image
from sqlmodel import Session

from agrifleet.fleet.alerts.tables import Alert
from agrifleet.fleet.modelops.observations import PhotoStore, reencode
from agrifleet.fleet.modelops.tables import DetectionVerdict, Observation, ObservationVerdict
from agrifleet.fleet.people import audit
from agrifleet.fleet.people.tables import Field_
from tests.fleet.device import T0, detection, event, reading
from tests.fleet.people.auth.people import add_farm, add_user
from tests.fleet.web.api.rows import store_items

#: Vietnamese and Chinese text, which must come out of a CSV as it went in.
VI_NAME = "Ruộng cà phê Đắk Lắk"
ZH_NAME = "咖啡田 一号"


def leaf_jpeg(colour: tuple[int, int, int], side: int = 64) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (side, side), colour).save(out, format="JPEG")
    return out.getvalue()


@dataclass
class FarmData:
    """What was put into one farm."""

    farm_id: int
    name: str
    admin_email: str
    field_id: int
    devices: list[str]
    readings: int
    detections: list[int] = field(default_factory=list)
    thumbnails: dict[int, bytes] = field(default_factory=dict)
    observations: list[int] = field(default_factory=list)
    photos: dict[int, str] = field(default_factory=dict)


def add_observation(app: Any, farm_id: int, field_id: int | None, colour: tuple[int, int, int],
                    taken_at: datetime, label: str = "Tomato___Late_blight",
                    taken_by: str = "scout@example.org") -> tuple[int, str]:
    """An observation stored as the scouting route stores one; its id and photo name."""
    photo = reencode(leaf_jpeg(colour, 96))
    name = PhotoStore(app.state.settings.data_dir).save(photo)
    with Session(app.state.engine) as session:
        row = Observation(
            client_id=str(uuid.uuid4()), farm_id=farm_id, field_id=field_id, latitude=12.7,
            longitude=108.1, taken_at=taken_at, taken_by=taken_by, label=label,
            confidence=0.9, uncertain=False, best=label,
            top3=[{"label": label, "confidence": 0.9}],
            crop={"name": label.split("___")[0], "confidence": 0.95, "uncertain": False,
                  "best": label.split("___")[0]},
            disease={"name": label.split("___")[1], "confidence": 0.9, "uncertain": False,
                     "best": label.split("___")[1]},
            model_name="leaf-disease", model_version="2.0.0", model_sha256="c" * 64,
            inference_ms=30.0, photo_bytes=len(photo.jpeg), width=photo.width,
            height=photo.height, photo_path=name)
        session.add(row)
        session.commit()
        assert row.id is not None
        return row.id, name


def make_farm(app: Any, name: str, prefix: str, colour: tuple[int, int, int],
              readings: int = 30) -> FarmData:
    engine = app.state.engine
    farm_id = add_farm(engine, name)
    admin = f"admin-{prefix}@example.org"
    add_user(engine, admin, {farm_id: "admin"})
    with Session(engine) as session:
        plot = Field_(farm_id=farm_id, name=f"{name} lô 1", crop="cà phê")
        session.add(plot)
        session.commit()
        assert plot.id is not None
        field_id = plot.id
    devices = [f"{prefix}-node-1", f"{prefix}-node-2"]
    from sqlalchemy import insert

    from agrifleet.fleet.devices.tables import Device

    with engine.begin() as conn:
        conn.execute(insert(Device), [
            {"id": devices[0], "name": VI_NAME, "farm_id": farm_id, "field_id": field_id},
            {"id": devices[1], "name": ZH_NAME, "farm_id": farm_id, "field_id": None},
        ])  # fmt: skip
    data = FarmData(farm_id, name, admin, field_id, devices, readings * 2)
    for device in devices:
        thumb = leaf_jpeg(colour, 16)
        store_items(app, device, [
            *(reading(s, value=float(s) + 0.25, ts=T0 + timedelta(hours=s))
              for s in range(readings)),
            detection(1000, label="Tomato___Late_blight", image=thumb),
            detection(1001, label="Tomato___healthy"),
            event(1002),
        ])  # fmt: skip
    from sqlmodel import col, select

    from agrifleet.fleet.telemetry.tables import Detection

    with Session(engine) as session:
        rows = session.exec(select(Detection).where(col(Detection.device_id).in_(devices))
                            .order_by(col(Detection.id))).all()
        for row in rows:
            assert row.id is not None
            data.detections.append(row.id)
            if row.thumbnail is not None:
                data.thumbnails[row.id] = row.thumbnail
        first = rows[0]
        assert first.id is not None
        session.add(DetectionVerdict(detection_id=first.id, verdict="rejected",
                                     label="Tomato___Early_blight",
                                     model_name=first.model_name,
                                     model_version=first.model_version, given_by=admin))
        session.add(Alert(rule_id=1, kind="disease", code="disease_detected",
                          params={"label": "Tomato___Late_blight"}, device_id=devices[0],
                          farm_id=farm_id, field_id=field_id, condition="late blight",
                          state="cleared", first_seen=T0, last_seen=T0))
        audit.record(session, admin, "farm.update", f"farm {farm_id}", None, name=name)
        session.commit()
    for hour, tone in ((2, colour), (40, tuple(min(255, c + 60) for c in colour))):
        oid, photo = add_observation(app, farm_id, field_id, tone,  # type: ignore[arg-type]
                                     T0 + timedelta(hours=hour))
        data.observations.append(oid)
        data.photos[oid] = photo
    with Session(engine) as session:  # the first rejected as early blight, the second confirmed
        for oid, verdict, label in ((data.observations[0], "rejected", "Tomato___Early_blight"),
                                    (data.observations[1], "confirmed", None)):
            session.add(ObservationVerdict(observation_id=oid, verdict=verdict, label=label,
                                           model_name="leaf-disease", model_version="2.0.0",
                                           given_by=f"scout-{prefix}@example.org"))
        session.commit()
    return data


def now() -> datetime:
    return datetime.now(UTC)
