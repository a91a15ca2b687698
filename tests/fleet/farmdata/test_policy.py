"""Each farm's data policy: its admin sets how many days readings, photos and alerts are kept
(null: the fleet's default) and its consent to training (who, when); the retention thread
applies each farm's days to that farm alone (rollups and open alerts stay), a farm that keeps
longer than the fleet's default keeps its readings."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col
from sqlmodel import select as select_rows

from agrifleet.fleet.farmdata.contents import ALERT, DETECTION, OBSERVATION, READING, table_of
from agrifleet.fleet.farmdata.policy import Defaults
from agrifleet.fleet.farmdata.retention import Pruner
from agrifleet.fleet.people.tables import AuditEntry
from agrifleet.fleet.telemetry.tables import ReadingHourly
from tests.fleet.conftest import FleetUnderTest
from tests.fleet.device import T0
from tests.fleet.farmdata.data import FarmData
from tests.fleet.farmdata.test_erase import _photo_files
from tests.fleet.farmdata.test_export import _headers
from tests.fleet.people.auth.people import add_user

HOURLY = table_of(ReadingHourly)


def _policy(fleet: FleetUnderTest, farm: FarmData, headers: dict[str, str] | None = None,
            **body: Any) -> Any:
    return fleet.client.patch(f"/api/v1/farms/{farm.farm_id}/data-policy",
                              headers=headers or _headers(fleet, farm.admin_email), json=body)


def _count(fleet: FleetUnderTest, table: Any, where: Any) -> int:
    with fleet.app.state.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(where))
                   .scalar_one())


def test_the_admin_sets_the_farms_days_and_consent_others_only_read(
        farm_app: FleetUnderTest, two_farms: tuple[FarmData, FarmData]) -> None:
    farm, other = two_farms
    url = f"/api/v1/farms/{farm.farm_id}/data-policy"
    shown = farm_app.client.get(url, headers=_headers(farm_app, farm.admin_email)).json()
    assert shown["own"] == {"readings_days": None, "photos_days": None, "alerts_days": None}
    assert shown["training_consent"] is False and shown["consent_by"] is None

    done = _policy(farm_app, farm, readings_days=365, photos_days=90, training_consent=True)
    assert done.status_code == 200, done.text
    policy = done.json()
    assert policy["effective"] == {"readings_days": 365, "photos_days": 90, "alerts_days": None}
    assert policy["training_consent"] is True and policy["consent_by"] == farm.admin_email
    consented_at = policy["consent_at"]
    again = _policy(farm_app, farm, readings_days=None, training_consent=True).json()
    assert again["own"]["readings_days"] is None and again["own"]["photos_days"] == 90
    assert again["consent_at"] == consented_at  # unchanged consent keeps its time

    add_user(farm_app.app.state.engine, "viewer-a@example.org", {farm.farm_id: "viewer"})
    viewer = _headers(farm_app, "viewer-a@example.org")
    assert farm_app.client.get(url, headers=viewer).json()["own"]["photos_days"] == 90
    assert _policy(farm_app, farm, viewer, photos_days=1).status_code == 403
    assert _policy(farm_app, farm, _headers(farm_app, other.admin_email),
                   photos_days=1).status_code == 404
    for bad in ({"photos_days": 0}, {"alerts_days": "soon"}, {"training_consent": None},
                {"keep": 1}):
        assert _policy(farm_app, farm, **bad).status_code == 422, bad
    with Session(farm_app.app.state.engine) as session:
        entries = session.exec(select_rows(AuditEntry).where(
            col(AuditEntry.action) == "farm.data_policy")).all()
    assert [e.details for e in entries] == [
        {"readings_days": 365, "photos_days": 90, "training_consent": True},
        {"readings_days": None, "training_consent": True}]


def test_the_retention_thread_applies_each_farms_days_to_that_farm(
        farm_app: FleetUnderTest, two_farms: tuple[FarmData, FarmData]) -> None:
    farm, other = two_farms
    assert _policy(farm_app, farm, readings_days=1, photos_days=1, alerts_days=1
                   ).status_code == 200
    settings = farm_app.app.state.settings
    hourly = _count(farm_app, HOURLY, HOURLY.c.device_id.in_(farm.devices))
    pruner = Pruner(farm_app.app.state.engine, None, defaults=Defaults(),
                    data_dir=settings.data_dir)
    done = pruner.run_once(now=T0 + timedelta(days=2))
    # Readings at T0 + 0..29 h: those before T0 + 1 day go (24 per device).
    assert done.farms.readings == 2 * 24 and done.farms.farms == [farm.farm_id]
    assert _count(farm_app, READING, READING.c.device_id.in_(farm.devices)) == 2 * 6
    assert _count(farm_app, HOURLY, HOURLY.c.device_id.in_(farm.devices)) == hourly
    assert _count(farm_app, READING, READING.c.device_id.in_(other.devices)) == other.readings
    # Photos taken at T0 + 2 h go, at T0 + 40 h stay; the observation rows stay.
    assert done.farms.photos == 1 and done.farms.thumbnails == 2
    assert len(_photo_files(farm_app, farm)) == 2 and len(_photo_files(farm_app, other)) == 4
    assert _count(farm_app, OBSERVATION, (OBSERVATION.c.farm_id == farm.farm_id)
                  & (OBSERVATION.c.photo_bytes == 0)) == 1
    assert _count(farm_app, DETECTION, DETECTION.c.device_id.in_(farm.devices)
                  & DETECTION.c.thumbnail.is_not(None)) == 0
    assert _count(farm_app, DETECTION, DETECTION.c.device_id.in_(other.devices)
                  & DETECTION.c.thumbnail.is_not(None)) == 2
    assert _count(farm_app, ALERT, ALERT.c.farm_id == farm.farm_id) == 0
    assert _count(farm_app, ALERT, ALERT.c.farm_id == other.farm_id) == 1
    photo = farm_app.client.get(f"/api/v1/observations/{farm.observations[0]}/photo",
                                headers=_headers(farm_app, farm.admin_email))
    assert photo.status_code == 404
    assert pruner.run_once(now=T0 + timedelta(days=2)).farms.farms == []  # nothing left to do


def test_a_farm_keeping_longer_than_the_fleets_default_keeps_its_readings(
        farm_app: FleetUnderTest, two_farms: tuple[FarmData, FarmData]) -> None:
    farm, other = two_farms
    assert _policy(farm_app, other, readings_days=3650).status_code == 200
    pruner = Pruner(farm_app.app.state.engine, 1, defaults=Defaults(readings_days=1))
    done = pruner.run_once(now=T0 + timedelta(days=2))
    assert done.deleted == 0 and done.farms.readings == 2 * 24
    assert _count(farm_app, READING, READING.c.device_id.in_(farm.devices)) == 2 * 6
    assert _count(farm_app, READING, READING.c.device_id.in_(other.devices)) == other.readings
    shown = farm_app.client.get(f"/api/v1/farms/{farm.farm_id}/data-policy",
                                headers=_headers(farm_app, farm.admin_email)).json()
    assert shown["defaults"]["readings_days"] is None  # the app's settings set none
