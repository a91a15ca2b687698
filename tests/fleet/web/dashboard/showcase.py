"""The test farm (:mod:`.farm`) with everything a page can show at once, for the phone-width
test and the documentation's screenshots: a reading of every kind a node sends, open alerts of
each kind (a disease, a reading out of range, a node offline) and a running rollout.

:func:`running_site` serves it under uvicorn with a private Mosquitto, outside pytest too
(``docs/img/make_screenshots.py``).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2 as httpx
from fastapi import FastAPI
from sqlmodel import Session

from agrifleet.fleet.alerts.evaluate import evaluate_once
from agrifleet.fleet.app import create_app
from agrifleet.fleet.devices.tables import DEFAULT_FARM_ID
from agrifleet.fleet.people.auth import create_token
from agrifleet.fleet.settings import FleetSettings
from agrifleet.fleet.telemetry.tables import Detection, LatestReading, Reading
from tests.base_model import BASE_VERSION
from tests.fleet.modelops.registry.packages import archive, keypair, package_dir
from tests.fleet.web.api.server import serving
from tests.fleet.web.dashboard.farm import Seeded, seed, thumbnail
from tests.services import running_mosquitto

#: (sensor, quantity, value, unit) as the node north-1's probes and GPS send them.
READINGS = (
    ("soil", "soil_moisture", 12.4, "%"), ("soil", "soil_temperature", 24.3, "degC"),
    ("soil", "soil_ec", 850.0, "uS/cm"), ("soil", "soil_ph", 6.4, "pH"),
    ("soil", "nitrogen", 42.0, "mg/kg"), ("soil", "phosphorus", 18.0, "mg/kg"),
    ("soil", "potassium", 160.0, "mg/kg"), ("tdr", "soil_permittivity", 21.7, ""),
    ("tdr", "soil_pore_water_ec", 2450.0, "uS/cm"), ("gps", "altitude", 4.2, "m"),
    ("gps", "satellites", 9.0, "count"), ("gps", "gps_fix_quality", 1.0, ""),
    ("gps", "speed", 0.0, "m/s"),
)
PACKAGE = ("leaf-disease", "1.2.0")


def add_readings(app: FastAPI, device_id: str = "north-1") -> None:
    """The latest reading of every quantity in :data:`READINGS`, and a day of soil moisture."""
    now = datetime.now(UTC)
    with Session(app.state.engine) as session:
        for i, (sensor, quantity, value, unit) in enumerate(READINGS):
            session.add(LatestReading(device_id=device_id, sensor=sensor, quantity=quantity,
                                      value=value, unit=unit, ts=now, boot_id="b2", seq=i))
        for hour in range(24):
            session.add(Reading(device_id=device_id, boot_id="b2", seq=100 + hour,
                                ts=now - timedelta(hours=hour), uptime_s=hour,
                                clock_synced=True, sensor="soil", quantity="soil_moisture",
                                value=12.4 + hour / 2, unit="%", stored_at=now))
        session.commit()


def open_alerts(url: str, app: FastAPI, token: str) -> None:
    """A disease ≥ 80 %, soil moisture out of 20–40 % and nodes offline, evaluated once."""
    auth = {"Authorization": f"Bearer {token}"}
    for rule in ({"name": "Disease", "kind": "disease", "min_confidence": 0.8},
                 {"name": "Dry soil", "kind": "reading_range", "quantity": "soil_moisture",
                  "min_value": 20, "max_value": 40},
                 {"name": "Offline", "kind": "offline"}):
        answer = httpx.post(url + "/api/v1/alert-rules", headers=auth, timeout=30,
                            json={**rule, "farm_id": DEFAULT_FARM_ID})
        assert answer.status_code == 201, answer.text
    now = datetime.now(UTC)
    with Session(app.state.engine) as session:  # a rule reads the detections made after it
        session.add(Detection(
            device_id="north-1", boot_id="b2", seq=1000, ts=now, uptime_s=1000,
            clock_synced=True, camera="cam0", label="Tomato___Late_blight", confidence=0.93,
            uncertain=False, top3=[{"label": "Tomato___Late_blight", "confidence": 0.93}],
            model_name="leaf-disease", model_version=BASE_VERSION, model_sha256="0" * 64,
            inference_ms=40.0, image_sha256="3" * 64, stored_at=now,
            thumbnail=thumbnail((90, 120, 40))))
        session.commit()
    evaluate_once(app.state.engine, datetime.now(UTC), offline_after_s=300)


def start_rollout(url: str, token: str) -> None:
    answer = httpx.post(url + "/api/v1/rollouts", timeout=30,
                        headers={"Authorization": f"Bearer {token}"},
                        json={"model": PACKAGE[0], "version": PACKAGE[1],
                              "targets": {"all": True}, "phases": [50, 100]})
    assert answer.status_code in (200, 201), answer.text


def fill(url: str, app: FastAPI, token: str) -> None:
    """Everything of the module's doc, on a served and seeded test farm."""
    add_readings(app)
    open_alerts(url, app, token)
    start_rollout(url, token)


@contextmanager
def running_site(folder: Path) -> Iterator[tuple[str, FastAPI, Seeded]]:
    """The filled test farm served on a free port: (address, app, what was seeded)."""
    (folder / "keys").mkdir(parents=True, exist_ok=True)
    key, pub = keypair(folder / "keys")
    with running_mosquitto(folder / "mosquitto") as broker:
        settings = FleetSettings(
            database_url=f"sqlite:///{folder / 'fleet.db'}", mqtt_url=broker.fleet_url,
            mqtt_client_id=f"fleet-{secrets.token_hex(4)}", data_dir=folder / "data",
            model_keys=(pub,), public_url="http://127.0.0.1:9", rollout_tick_s=60)
        app = create_app(settings)
        with serving(app) as url:
            seeded = seed(app)
            token = create_token(app.state.engine, "technician", "publisher")
            package = archive(package_dir(folder / "pkg", PACKAGE[1], key))
            answer = httpx.post(url + "/api/v1/models", content=package, timeout=60,
                                headers={"Authorization": f"Bearer {token}",
                                         "Content-Type": "application/gzip"})
            assert answer.status_code == 201, answer.text
            fill(url, app, token)
            yield url, app, seeded
