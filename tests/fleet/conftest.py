"""Fleet fixtures: each test gets its own database (SQLite file, or a fresh PostgreSQL database
on the session's private server), the app with tokens, and real MQTT devices."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from fleet.app import create_app
from fleet.auth import create_token
from fleet.settings import FleetSettings
from tests.fleet.device import Device
from tests.services import Broker


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fleet.db'}"
    return str(request.getfixturevalue("postgres").create_database())


@dataclass
class FleetUnderTest:
    """The running app, its HTTP client and an admin and a viewer token."""

    app: FastAPI
    client: TestClient
    admin: dict[str, str]
    viewer: dict[str, str]
    broker: Broker | None = None
    devices: list[Device] = field(default_factory=list)

    def get(self, path: str, **params: Any) -> Any:
        response = self.client.get(path, headers=self.viewer, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def register(self, device_id: str, name: str = "") -> None:
        response = self.client.post(
            "/api/v1/devices", headers=self.admin, json={"id": device_id, "name": name}
        )
        assert response.status_code == 201, response.text

    def device(self, device_id: str, register: bool = True) -> Device:
        """A registered (or not) device connected with its own credentials."""
        assert self.broker is not None
        if register:
            self.register(device_id)
        device = Device(self.broker.add_device(device_id), device_id)
        self.devices.append(device)
        return device

    def metrics(self) -> str:
        response = self.client.get("/metrics", headers=self.viewer)
        assert response.status_code == 200, response.text
        return response.text

    def metric(self, line_start: str) -> float:
        """The value of the first metrics line starting with ``line_start`` (0 if absent)."""
        for line in self.metrics().splitlines():
            if line.startswith(line_start + " "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0


@contextmanager
def running_fleet(settings: FleetSettings) -> Iterator[FleetUnderTest]:
    """The app started (migrated, ingesting when settings say so) with two fresh tokens."""
    app = create_app(settings)
    with TestClient(app) as client:
        engine = app.state.engine
        yield FleetUnderTest(
            app=app,
            client=client,
            admin={"Authorization": f"Bearer {create_token(engine, 'admin')}"},
            viewer={"Authorization": f"Bearer {create_token(engine, 'viewer')}"},
        )


@pytest.fixture
def api(database_url: str) -> Iterator[FleetUnderTest]:
    """The fleet app without MQTT ingestion."""
    with running_fleet(FleetSettings(database_url=database_url)) as running:
        yield running


@pytest.fixture
def fleet(database_url: str, broker: Broker) -> Iterator[FleetUnderTest]:
    """The fleet app ingesting from the test's Mosquitto."""
    settings = FleetSettings(
        database_url=database_url,
        mqtt_url=broker.fleet_url,
        mqtt_client_id=f"fleet-{secrets.token_hex(4)}",
    )
    with running_fleet(settings) as running:
        running.broker = broker
        assert running.app.state.ingestor.wait_connected(10), "fleet did not connect"
        try:
            yield running
        finally:
            for device in running.devices:
                device.close()
