"""Erasing on a farm admin's request: the rows of a device, a field or the whole farm (or only
what is dated before a time) are gone from the database and the photos from the disk, the
receipt counts them, the audit log records who erased how much (and nothing of what), and
another farm's data is untouched; a wrong name, another farm's admin or a viewer erase nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select
from sqlmodel import Session, col
from sqlmodel import select as select_rows

from agrifleet.fleet.farmdata.contents import (
    ALERT,
    DETECTION,
    EVENT,
    OBSERVATION,
    READING,
    VERDICT,
    table_of,
)
from agrifleet.fleet.people.tables import AuditEntry
from agrifleet.fleet.telemetry.tables import LatestReading, ReadingDaily, ReadingHourly
from tests.fleet.conftest import FleetUnderTest
from tests.fleet.device import T0
from tests.fleet.farmdata.data import FarmData
from tests.fleet.farmdata.test_export import _headers
from tests.fleet.people.auth.people import add_user

HOURLY, DAILY, LATEST = table_of(ReadingHourly), table_of(ReadingDaily), table_of(LatestReading)


def _counts(engine: Engine, devices: list[str], farm_id: int) -> dict[str, int]:
    """Rows of each kind the devices (and the farm, for photos and alerts) have."""
    def n(table: Any, where: Any) -> int:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table).where(where))
                       .scalar_one())
    return {
        "readings": n(READING, READING.c.device_id.in_(devices)),
        "latest_readings": n(LATEST, LATEST.c.device_id.in_(devices)),
        "readings_hourly": n(HOURLY, HOURLY.c.device_id.in_(devices)),
        "readings_daily": n(DAILY, DAILY.c.device_id.in_(devices)),
        "detections": n(DETECTION, DETECTION.c.device_id.in_(devices)),
        "verdicts": n(VERDICT, VERDICT.c.detection_id.in_(
            select(DETECTION.c.id).where(DETECTION.c.device_id.in_(devices)))),
        "events": n(EVENT, EVENT.c.device_id.in_(devices)),
        "observations": n(OBSERVATION, OBSERVATION.c.farm_id == farm_id),
        "alerts": n(ALERT, ALERT.c.farm_id == farm_id),
    }


def _photo_files(fleet: FleetUnderTest, farm: FarmData) -> list[Path]:
    root = fleet.app.state.settings.data_dir / "observations"
    return [p for name in farm.photos.values()
            for p in (root / name, root / (Path(name).stem + ".thumb.jpg")) if p.exists()]


def _erase(fleet: FleetUnderTest, farm: FarmData, headers: dict[str, str] | None = None,
           **body: Any) -> Any:
    return fleet.client.post(f"/api/v1/farms/{farm.farm_id}/erase",
                             headers=headers or _headers(fleet, farm.admin_email),
                             json={"confirm": farm.name, **body})


def test_erasing_the_whole_farm_leaves_nothing_of_it_and_all_of_the_other(
        farm_app: FleetUnderTest, two_farms: tuple[FarmData, FarmData]) -> None:
    farm, other = two_farms
    engine = farm_app.app.state.engine
    before = _counts(engine, farm.devices, farm.farm_id)
    others = _counts(engine, other.devices, other.farm_id)
    assert all(before.values()) and len(_photo_files(farm_app, farm)) == 4

    response = _erase(farm_app, farm)
    assert response.status_code == 200, response.text
    receipt = response.json()
    assert receipt["counts"] == {**before, "photo_files": 4, "observation_verdicts": 2}
    assert receipt["erased_by"] == farm.admin_email and receipt["farm_id"] == farm.farm_id

    assert set(_counts(engine, farm.devices, farm.farm_id).values()) == {0}
    assert _photo_files(farm_app, farm) == []
    assert _counts(engine, other.devices, other.farm_id) == others
    assert len(_photo_files(farm_app, other)) == 4
    devices = farm_app.get(f"/api/v1/devices?farm_id={farm.farm_id}")
    assert {d["id"] for d in devices} >= set(farm.devices)  # the devices stay

    with Session(engine) as session:
        entry = session.get(AuditEntry, receipt["audit_id"])
    assert entry is not None and entry.action == "farm.erase"
    assert entry.actor == farm.admin_email and entry.target == f"farm {farm.farm_id}"
    assert entry.details["counts"] == receipt["counts"]
    assert entry.details["scope"] == {"farm_id": farm.farm_id, "device_id": None,
                                      "field_id": None, "before": None}
    assert "Tomato" not in str(entry.details) and "node-1" not in str(entry.details)


def test_erasing_one_device_leaves_the_rest_of_the_farm(
        farm_app: FleetUnderTest, two_farms: tuple[FarmData, FarmData]) -> None:
    farm = two_farms[0]
    engine = farm_app.app.state.engine
    kept = _counts(engine, [farm.devices[1]], farm.farm_id)
    response = _erase(farm_app, farm, device_id=farm.devices[0])
    assert response.status_code == 200, response.text
    counts = response.json()["counts"]
    assert counts["readings"] == farm.readings // 2 and counts["detections"] == 2
    assert counts["observations"] == 0 and counts["photo_files"] == 0
    gone = _counts(engine, [farm.devices[0]], -1)
    assert not any(v for k, v in gone.items() if k not in ("observations", "alerts"))
    after = _counts(engine, [farm.devices[1]], farm.farm_id)
    assert after == {**kept, "alerts": 0}  # the one alert was on the erased device
    assert len(_photo_files(farm_app, farm)) == 4


def test_erasing_a_field_takes_its_devices_and_scouting_photos(
        farm_app: FleetUnderTest, two_farms: tuple[FarmData, FarmData]) -> None:
    farm = two_farms[0]
    engine = farm_app.app.state.engine
    response = _erase(farm_app, farm, field_id=farm.field_id)
    assert response.status_code == 200, response.text
    counts = response.json()["counts"]
    assert counts["observations"] == 2 and counts["photo_files"] == 4
    assert _counts(engine, [farm.devices[0]], farm.farm_id)["readings"] == 0
    assert _counts(engine, [farm.devices[1]], farm.farm_id)["readings"] == farm.readings // 2
    assert _photo_files(farm_app, farm) == []


def test_erasing_before_a_time_keeps_what_came_after_and_recounts_the_rollups(
        farm_app: FleetUnderTest, two_farms: tuple[FarmData, FarmData]) -> None:
    farm = two_farms[0]
    engine = farm_app.app.state.engine
    cutoff = T0 + timedelta(hours=10, minutes=30)  # readings at T0 + 0..29 h, one per hour
    response = _erase(farm_app, farm, before=cutoff.isoformat())
    assert response.status_code == 200, response.text
    counts = response.json()["counts"]
    assert counts["readings"] == 2 * 11 and counts["observations"] == 1
    with engine.connect() as conn:
        left = conn.execute(select(func.min(READING.c.ts)).where(
            READING.c.device_id.in_(farm.devices))).scalar_one()
        daily = dict(conn.execute(select(DAILY.c.bucket, DAILY.c.count).where(
            DAILY.c.device_id == farm.devices[0])).all())
        hourly = conn.execute(select(func.sum(HOURLY.c.count)).where(
            HOURLY.c.device_id == farm.devices[0])).scalar_one()
    assert left.replace(tzinfo=None) == (T0 + timedelta(hours=11)).replace(tzinfo=None)
    # T0 is 12:00 on June 1: hours 11..11 of that day are left (23:00), the rest on June 2.
    assert sorted(daily.values()) == [1, 18] and hourly == 19
    assert len(_photo_files(farm_app, farm)) == 2


def test_a_wrong_name_a_stranger_or_a_viewer_erase_nothing(
        farm_app: FleetUnderTest, two_farms: tuple[FarmData, FarmData]) -> None:
    farm, other = two_farms
    engine = farm_app.app.state.engine
    before = _counts(engine, farm.devices, farm.farm_id)
    wrong = farm_app.client.post(f"/api/v1/farms/{farm.farm_id}/erase",
                                 headers=_headers(farm_app, farm.admin_email),
                                 json={"confirm": farm.name.upper()})
    assert wrong.status_code == 422 and "farm's name" in wrong.text
    assert _erase(farm_app, farm, headers=_headers(farm_app, other.admin_email)).status_code \
        == 404
    add_user(engine, "viewer-a@example.org", {farm.farm_id: "viewer"})
    viewer = _erase(farm_app, farm, headers=_headers(farm_app, "viewer-a@example.org"))
    assert viewer.status_code == 403
    foreign = _erase(farm_app, farm, device_id=other.devices[0])
    assert foreign.status_code == 404 and other.devices[0] in foreign.text
    assert _erase(farm_app, farm, field_id=other.field_id).status_code == 404
    both = _erase(farm_app, farm, device_id=farm.devices[0], field_id=farm.field_id)
    assert both.status_code == 422
    assert _erase(farm_app, farm, extra=True).status_code == 422
    assert farm_app.client.post(f"/api/v1/farms/{farm.farm_id}/erase",
                                json={"confirm": farm.name}).status_code == 401
    assert _counts(engine, farm.devices, farm.farm_id) == before
    with Session(engine) as session:
        assert session.exec(select_rows(AuditEntry).where(
            col(AuditEntry.action) == "farm.erase")).all() == []
