"""A demo farm for the dashboard's tests: two fields of nodes with positions, a week of soil
readings, detections with thumbnails, a silent sensor, a viewer and a technician; and another
farm, with its own field, node and detection, that neither of them may see."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from PIL import Image
from sqlmodel import Session

from agrifleet.fleet.devices.tables import DEFAULT_FARM_ID, Device
from agrifleet.fleet.people.tables import Farm, Field_, Membership, User
from agrifleet.fleet.telemetry.tables import Detection, Event, LatestReading, Reading
from tests.base_model import BASE_VERSION
from tests.fleet.people.auth.people import stored_hash

VIEWER = ("vy@farm.example", "viewer-pass-1")
TECHNICIAN = ("tam@farm.example", "technician-pass-1")
#: The nodes run the base model; the site publishes a 1.2.0 made from it to roll out.
HEALTH = {"outbox_depth": 3, "disk_free_bytes": 5_400_000_000, "cpu_temp_c": 51.5,
          "model": {"name": "leaf-disease", "version": BASE_VERSION, "sha256": "0" * 64}}
NODES = {  # id: (field, lat, lon, online)
    "north-1": ("North", 10.0312, 105.7690, True),
    "north-2": ("North", 10.0318, 105.7702, False),
    "river-1": ("River", 10.0400, 105.7800, True),
}
OUTLINE = {"type": "Polygon", "coordinates": [[[105.7685, 10.0308], [105.7708, 10.0308],
                                               [105.7708, 10.0322], [105.7685, 10.0322],
                                               [105.7685, 10.0308]]]}
OTHER_NODE, OTHER_FIELD = "hill-9", "Hillside"


@dataclass
class Seeded:
    detection_ids: list[int]
    fields: dict[str, int]
    other_detection: int
    other_field: int


def thumbnail(color: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (96, 96), color).save(buf, "JPEG", quality=70)
    return buf.getvalue()


def seed(app: FastAPI, now: datetime | None = None) -> Seeded:
    now = now or datetime.now(UTC)
    ids = []
    with Session(app.state.engine) as session:
        other = Farm(name="Other farm")
        session.add(other)
        session.flush()
        assert other.id is not None
        for email, password, role in ((*VIEWER, "viewer"), (*TECHNICIAN, "technician")):
            user = User(email=email, password_hash=stored_hash(password))
            session.add(user)
            session.flush()
            assert user.id is not None
            session.add(Membership(user_id=user.id, farm_id=DEFAULT_FARM_ID, role=role))
        fields = {}
        for name, crop in (("North", "tomato"), ("River", "rice")):
            row = Field_(name=name, crop=crop, farm_id=DEFAULT_FARM_ID,
                         outline=OUTLINE if name == "North" else None)
            session.add(row)
            session.flush()
            fields[name] = row.id or 0
        hill = Field_(name=OTHER_FIELD, crop="coffee", farm_id=other.id)
        session.add(hill)
        session.flush()
        for device_id, (field, _lat, _lon, online) in NODES.items():
            session.add(Device(id=device_id, name=device_id.replace("-", " ").title(),
                               online=online, farm_id=DEFAULT_FARM_ID, field_id=fields[field],
                               last_seen=now - timedelta(seconds=20 if online else 7200),
                               health=HEALTH, tags=["soil"]))
        session.add(Device(id=OTHER_NODE, name="Hill 9", online=True, farm_id=other.id,
                           field_id=hill.id, last_seen=now, health=HEALTH))
        session.flush()
        seq = 0
        for device_id, (_field, lat, lon, _online) in NODES.items():
            for quantity, value, unit in (("latitude", lat, "deg"), ("longitude", lon, "deg")):
                seq += 1
                session.add(Reading(device_id=device_id, boot_id="b1", seq=seq, ts=now,
                                    uptime_s=1, clock_synced=True, sensor="gps",
                                    quantity=quantity, value=value, unit=unit, stored_at=now))
                session.add(LatestReading(device_id=device_id, sensor="gps", quantity=quantity,
                                          value=value, unit=unit, ts=now, boot_id="b1", seq=seq))
            for hour in range(24 * 7, -1, -1):  # a week, hourly
                ts = now - timedelta(hours=hour)
                for quantity, value, unit in (
                        ("moisture", 30 + 8 * math.sin(hour / 6), "%"),
                        ("temperature", 27 + 4 * math.sin(hour / 4), "°C")):
                    seq += 1
                    session.add(Reading(device_id=device_id, boot_id="b1", seq=seq, ts=ts,
                                        uptime_s=seq, clock_synced=True, sensor="soil",
                                        quantity=quantity, value=value, unit=unit,
                                        stored_at=ts))
            for quantity, unit in (("moisture", "%"), ("temperature", "°C")):
                session.add(LatestReading(device_id=device_id, sensor="soil", quantity=quantity,
                                          value=31.5, unit=unit, ts=now, boot_id="b1", seq=seq))
        seq += 1
        session.add(Event(device_id="north-2", boot_id="b1", seq=seq, ts=now, uptime_s=seq,
                          clock_synced=True, severity="warning", code="sensor_down",
                          message="soil did not answer", sensor="soil", stored_at=now))
        for i, (label, conf) in enumerate([("Tomato___Late_blight", 0.93),
                                           ("Tomato___Early_blight", 0.71),
                                           ("Tomato___healthy", 0.98)]):
            seq += 1
            det = Detection(device_id="north-1", boot_id="b1", seq=seq,
                            ts=now - timedelta(hours=i + 1), uptime_s=seq, clock_synced=True,
                            camera="cam0", label=label, confidence=conf, uncertain=False,
                            top3=[{"label": label, "confidence": conf},
                                  {"label": "Tomato___Septoria_leaf_spot", "confidence": 0.05}],
                            model_name="leaf-disease", model_version=BASE_VERSION,
                            model_sha256="0" * 64, inference_ms=40.0, image_sha256="1" * 64,
                            stored_at=now, thumbnail=thumbnail((40 * i, 140, 60)))
            session.add(det)
            session.flush()
            ids.append(det.id or 0)
        seq += 1
        theirs = Detection(device_id=OTHER_NODE, boot_id="b1", seq=seq, ts=now, uptime_s=1,
                           clock_synced=True, camera="cam0", label="Corn_(maize)___Common_rust_",
                           confidence=0.97, uncertain=False, top3=[], model_name="leaf-disease",
                           model_version=BASE_VERSION, model_sha256="0" * 64, inference_ms=40.0,
                           image_sha256="2" * 64, stored_at=now, thumbnail=thumbnail((200, 0, 0)))
        session.add(theirs)
        session.commit()
        return Seeded(ids, fields, theirs.id or 0, hill.id or 0)
