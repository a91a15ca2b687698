"""Devices as rollout targets specify: tags are set at registration and by PATCH (technician or
admin), a device shows the model its last status named, and a technician token registers
devices (it manages devices, models and rollouts) where a viewer cannot."""

from __future__ import annotations

from sqlmodel import Session

from agrifleet.fleet.devices.tables import Device
from agrifleet.fleet.people.auth import create_token
from tests.fleet.conftest import FleetUnderTest
from tests.fleet.modelops.rollouts.conftest import OLD


def test_tags_at_registration_and_by_patch(api: FleetUnderTest) -> None:
    response = api.client.post("/api/v1/devices", headers=api.admin,
                               json={"id": "n1", "tags": ["orchard", "north", "orchard"]})
    assert response.status_code == 201, response.text
    assert response.json()["tags"] == ["north", "orchard"]
    patched = api.client.patch("/api/v1/devices/n1", headers=api.admin,
                               json={"tags": ["south"]})
    assert patched.status_code == 200 and patched.json()["tags"] == ["south"]
    assert api.get("/api/v1/devices/n1")["tags"] == ["south"]
    assert api.get("/api/v1/devices")[0]["tags"] == ["south"]
    bad = api.client.patch("/api/v1/devices/n1", headers=api.admin, json={"tags": ["a b"]})
    assert bad.status_code == 422
    viewer = api.client.patch("/api/v1/devices/n1", headers=api.viewer, json={"tags": []})
    assert viewer.status_code == 403
    unknown = api.client.patch("/api/v1/devices/zz", headers=api.admin, json={"tags": []})
    assert unknown.status_code == 404


def test_a_device_shows_the_model_it_runs(api: FleetUnderTest) -> None:
    api.register("n1")
    assert api.get("/api/v1/devices/n1")["model"] is None
    with Session(api.app.state.engine) as session:
        device = session.get(Device, "n1")
        assert device is not None
        device.health = {"outbox_depth": 0, "model": OLD}
        session.add(device)
        session.commit()
    assert api.get("/api/v1/devices/n1")["model"] == OLD
    assert api.get("/api/v1/devices")[0]["model"] == OLD


def test_a_technician_registers_devices_a_viewer_cannot(api: FleetUnderTest) -> None:
    tech = {"Authorization": f"Bearer {create_token(api.app.state.engine, 'technician')}"}
    assert api.client.get("/api/v1/devices", headers=tech).status_code == 200
    response = api.client.post("/api/v1/devices", headers=tech, json={"id": "n9"})
    assert response.status_code == 201, response.text
    assert response.json()["farm_id"] == 1
    refused = api.client.post("/api/v1/devices", headers=api.viewer, json={"id": "n8"})
    assert refused.status_code == 403
