"""Fleet fixtures: each test gets its own database (SQLite file, or a fresh PostgreSQL database
on the session's private server), the app with tokens, and real MQTT devices.

Migrating takes far longer than most tests, so the fleets of ``api`` and ``fleet`` start on a
copy of a database migrated once per session (the SQLite file copied; ``CREATE DATABASE …
TEMPLATE`` on PostgreSQL); ``database_url`` alone is still an empty database of its own."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import make_url

from agrifleet.fleet.app import create_app
from agrifleet.fleet.db import make_engine
from agrifleet.fleet.migrate import upgrade
from agrifleet.fleet.people.auth import create_token
from agrifleet.fleet.settings import FleetSettings
from tests.fleet.device import Device
from tests.services import Broker, Postgres


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fleet.db'}"
    postgres: Postgres = request.getfixturevalue("postgres")
    if "migrated_database_url" in request.fixturenames:  # made migrated, not emptied and copied
        templates: MigratedTemplates = request.getfixturevalue("migrated_templates")
        url = templates.new_postgres_database(postgres)
    else:
        url = str(postgres.create_database())
    request.addfinalizer(lambda: postgres.drop_database(url))
    return url


class MigratedTemplates:
    """Databases migrated to head once per session, copied into a test's own new database."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._sqlite: Path | None = None
        self._postgres: dict[int, str] = {}  # server port -> template database

    def fill(self, database_url: str) -> None:
        """Make the SQLite file at ``database_url`` a copy of the migrated one.

        A file someone already made is left alone: the app migrates it as it would.
        """
        url = make_url(database_url)
        assert url.get_backend_name() == "sqlite", "PostgreSQL: use new_postgres_database()"
        target = Path(url.database or "")
        if not target.exists():
            shutil.copyfile(self._sqlite_template(), target)

    def new_postgres_database(self, postgres: Postgres) -> str:
        """A new database on ``postgres``, a copy of the migrated one; its URL."""
        return postgres.create_database(template=self._postgres_template(postgres))

    def _sqlite_template(self) -> Path:
        if self._sqlite is None:
            path = self.directory / "fleet-template.db"
            _migrate(f"sqlite:///{path}")
            self._sqlite = path
        return self._sqlite

    def _postgres_template(self, postgres: Postgres) -> str:
        if postgres.port not in self._postgres:
            url = postgres.create_database()
            _migrate(url)
            self._postgres[postgres.port] = make_url(url).database or ""
        return self._postgres[postgres.port]


def _migrate(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()  # a template must have nobody connected (SQLite: WAL checkpointed)


@pytest.fixture(scope="session")
def migrated_templates(tmp_path_factory: pytest.TempPathFactory) -> MigratedTemplates:
    return MigratedTemplates(tmp_path_factory.mktemp("migrated"))


@pytest.fixture
def migrated_database_url(database_url: str, migrated_templates: MigratedTemplates) -> str:
    """``database_url``'s database, already migrated to head (a copy of the session's)."""
    if make_url(database_url).get_backend_name() == "sqlite":
        migrated_templates.fill(database_url)
    # PostgreSQL: database_url made it from the template already (it saw this fixture asked for).
    return database_url


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
def api(migrated_database_url: str, tmp_path: Path) -> Iterator[FleetUnderTest]:
    """The fleet app without MQTT ingestion; its files (photos, exports) in the test's folder."""
    with running_fleet(FleetSettings(database_url=migrated_database_url,
                                     data_dir=tmp_path / "data")) as running:
        yield running


@pytest.fixture
def fleet(migrated_database_url: str, broker: Broker) -> Iterator[FleetUnderTest]:
    """The fleet app ingesting from the test's Mosquitto."""
    settings = FleetSettings(
        database_url=migrated_database_url,
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
