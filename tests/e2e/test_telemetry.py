"""Simulated probes → agents → Mosquitto → fleet → REST: a farm manager reads every measurement."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from agrifleet.demo.local_fleet import LocalFleet
from tests.e2e.conftest import api, assert_nothing_lost, wait_until

SOIL = {"soil_moisture", "soil_temperature", "soil_ec", "soil_ph", "nitrogen", "phosphorus"}


def _reports_every_sensor(fleet: LocalFleet, device: str) -> bool:
    latest = api(fleet, f"/devices/{device}")["latest"]
    quantities = {r["quantity"] for r in latest}
    sensors = {r["sensor"] for r in latest}
    return SOIL | {"latitude", "longitude"} <= quantities and {"soil", "probe", "gps"} <= sensors


def test_every_sensor_reaches_the_rest_api(
    make_fleet: Callable[..., LocalFleet], database_url: str
) -> None:
    fleet = make_fleet(database_url)
    for device in fleet.devices:
        wait_until(partial(_reports_every_sensor, fleet, device), 60, f"readings of {device}")
    detail = api(fleet, "/devices/field-01")
    assert detail["online"] is True
    assert abs(detail["position"]["latitude"] - 10.03) < 0.01
    assert detail["health"]["outbox_depth"] >= 0
    sensors = {r["sensor"] for r in detail["latest"]}
    assert sensors == {"soil", "probe", "gps"}

    readings = api(fleet, "/devices/field-01/readings?sensor=soil&quantity=soil_moisture&limit=5")
    assert 1 <= len(readings) <= 5
    assert all(0 <= r["value"] <= 100 and r["unit"] == "%" for r in readings)
    buckets = api(fleet, "/devices/field-01/readings?sensor=soil&quantity=soil_moisture&bucket=60")
    assert buckets and all(b["min"] <= b["mean"] <= b["max"] for b in buckets)

    assert_nothing_lost(fleet, database_url)
