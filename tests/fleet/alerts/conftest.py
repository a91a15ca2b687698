"""Alert fixtures: a fleet whose evaluator thread stays idle (tests call evaluate_once with the
time they choose), a technician token, and items and statuses stored through the real writer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from agrifleet.fleet.alerts.evaluate import Tick, evaluate_once
from agrifleet.fleet.people.auth import create_token
from agrifleet.fleet.settings import FleetSettings
from agrifleet.fleet.telemetry.writer import Incoming, Writer
from tests.fleet.conftest import FleetUnderTest, running_fleet
from tests.fleet.web.api.rows import store_items


@dataclass
class AlertFleet:
    fleet: FleetUnderTest
    technician: dict[str, str]

    @property
    def client(self) -> Any:
        return self.fleet.client

    def evaluate(self, now: datetime | None = None) -> Tick:
        return evaluate_once(self.fleet.app.state.engine, now or datetime.now(UTC),
                             offline_after_s=self.fleet.app.state.settings.offline_after_s)

    def rule(self, **body: Any) -> dict[str, Any]:
        response = self.client.post("/api/v1/alert-rules", headers=self.technician, json=body)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    def alerts(self, **params: Any) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.fleet.get("/api/v1/alerts", **params)
        return result

    def store(self, device_id: str, items: list[dict[str, Any]]) -> None:
        store_items(self.fleet.app, device_id, items)

    def status(self, device_id: str, state: str = "online", **health: Any) -> None:
        """A status message through the real writer, as ingestion stores it."""
        body = {"v": 1, "device_id": device_id, "boot_id": "b1", "state": state,
                "ts": datetime.now(UTC).isoformat(),
                "health": {"outbox_depth": 0, **health}}
        app = self.fleet.app
        writer = Writer(app.state.engine, app.state.metrics, "agrifleet", lambda dev, ack: None)
        writer.write([Incoming(f"agrifleet/{device_id}/status", json.dumps(body).encode())])


@pytest.fixture
def alerting(migrated_database_url: str) -> Iterator[AlertFleet]:
    settings = FleetSettings(database_url=migrated_database_url, alert_tick_s=3600)
    with running_fleet(settings) as fleet:
        token = create_token(fleet.app.state.engine, "technician")
        yield AlertFleet(fleet, {"Authorization": f"Bearer {token}"})
