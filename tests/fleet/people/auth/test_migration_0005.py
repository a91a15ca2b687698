"""Migration 0005 specifies: on a database that holds 0004's data, devices move to the
"Default farm" (id 1) it creates, keep their readings, and new farms get new ids; a fresh
install has the same default farm, where a service token registers devices as before."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, select, text
from sqlmodel import Session, col

from agrifleet.fleet.db import make_engine
from agrifleet.fleet.migrate import upgrade
from agrifleet.fleet.people.tables import Farm
from tests.fleet.conftest import FleetUnderTest


def test_devices_of_0004_move_to_the_default_farm(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0004")
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO device (id, name, created_at, online, tags) VALUES "
                              "('old-1', 'North', :t, false, '[\"orchard\"]'), "
                              "('old-2', '', :t, false, '[]')"), {"t": datetime(2026, 1, 1)})
            conn.execute(text(
                "INSERT INTO reading (device_id, boot_id, seq, ts, uptime_s, clock_synced, "
                "future, sensor, quantity, value, unit, stored_at) VALUES ('old-1', 'b', 1, :t, "
                "1.0, true, false, 'soil', 'moisture', 31.5, '%', :t)"),
                {"t": datetime(2026, 1, 1)})
        upgrade(engine)
        with engine.connect() as conn:
            farms = conn.execute(text("SELECT id, name FROM farm")).all()
            devices = conn.execute(
                text("SELECT id, farm_id, field_id FROM device ORDER BY id")).all()
            kept = conn.execute(text("SELECT value FROM reading WHERE device_id = 'old-1'")).all()
        assert [tuple(f) for f in farms] == [(1, "Default farm")]
        assert [tuple(d) for d in devices] == [("old-1", 1, None), ("old-2", 1, None)]
        assert [r[0] for r in kept] == [31.5]
        with engine.begin() as conn:  # the id sequence moved past the default farm
            conn.execute(insert(Farm).values(name="Second", created_at=datetime.now(UTC)))
            second = select(col(Farm.id)).where(col(Farm.name) == "Second")
            assert conn.execute(second).scalar_one() == 2
    finally:
        engine.dispose()


def test_a_fresh_install_has_the_default_farm(api: FleetUnderTest) -> None:
    with Session(api.app.state.engine) as session:
        farm = session.get(Farm, 1)
        assert farm is not None and farm.name == "Default farm"
    created = api.client.post("/api/v1/devices", headers=api.admin, json={"id": "n1"})
    assert created.status_code == 201 and created.json()["farm_id"] == 1
    assert api.get("/api/v1/farms")[0]["name"] == "Default farm"
