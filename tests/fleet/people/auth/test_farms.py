"""Farms, fields and people specify: a user who creates a farm becomes its admin; a field's
outline must be a GeoJSON Polygon (an open ring is closed); a device may sit on a field of its
own farm only; an empty farm can be deleted but not the default farm nor one with devices; a
farm keeps its last admin; a farm admin adds people to their farm and a deactivated user's
sessions end."""

from __future__ import annotations

from tests.fleet.conftest import FleetUnderTest
from tests.fleet.people.auth.people import add_user, bearer, personal_token, signed_in

SQUARE = {"type": "Polygon", "coordinates": [[[108.0, 12.0], [108.1, 12.0], [108.1, 12.1],
                                              [108.0, 12.0]]]}


def test_a_farm_its_fields_and_devices(api: FleetUnderTest) -> None:
    engine = api.app.state.engine
    ana = bearer(personal_token(engine, add_user(engine, "ana@farm.example", {1: "admin"}))[1])
    farm = api.client.post("/api/v1/farms", json={"name": "Hill"}, headers=ana)
    assert farm.status_code == 201, farm.text
    farm_id = farm.json()["id"]
    assert [f["name"] for f in api.client.get("/api/v1/farms", headers=ana).json()] == [
        "Default farm", "Hill"]
    fields = f"/api/v1/farms/{farm_id}/fields"
    open_ring = {"type": "Polygon", "coordinates": [[[108.0, 12.0], [108.1, 12.0], [108.1, 12.1],
                                                     [108.0, 12.1]]]}
    for outline in ({}, {"type": "Point", "coordinates": [1, 2]},
                    {"type": "Polygon", "coordinates": [[[200, 0], [0, 0], [0, 1], [200, 0]]]}):
        bad = api.client.post(fields, json={"name": "north", "outline": outline}, headers=ana)
        assert bad.status_code == 422, (outline, bad.text)
    # an open ring is closed by the fleet (a JSON Schema cannot ask for the closing position)
    opened = api.client.post(fields, json={"name": "open", "outline": open_ring}, headers=ana)
    assert opened.status_code == 201, opened.text
    assert opened.json()["outline"]["coordinates"][0][-1] == [108.0, 12.0]
    assert api.client.delete(f"{fields}/{opened.json()['id']}", headers=ana).status_code == 204
    made = api.client.post(fields, json={"name": "north", "crop": "coffee", "outline": SQUARE},
                           headers=ana)
    assert made.status_code == 201 and made.json()["outline"] == SQUARE
    field_id = made.json()["id"]
    twice = api.client.post(fields, json={"name": "north"}, headers=ana)
    assert twice.status_code == 409
    elsewhere = api.client.post("/api/v1/devices", headers=ana,
                                json={"id": "n1", "field_id": field_id})  # default farm
    assert elsewhere.status_code == 404
    placed = api.client.post("/api/v1/devices", headers=ana,
                             json={"id": "n1", "farm_id": farm_id, "field_id": field_id})
    assert placed.status_code == 201 and placed.json()["field_id"] == field_id
    assert api.client.delete(f"/api/v1/farms/{farm_id}", headers=ana).status_code == 409
    assert api.client.delete("/api/v1/farms/1", headers=ana).status_code == 409
    empty = api.client.post("/api/v1/farms", json={"name": "Empty"}, headers=ana).json()["id"]
    assert api.client.delete(f"/api/v1/farms/{empty}", headers=ana).status_code == 204
    assert api.client.get(f"/api/v1/farms/{empty}", headers=ana).status_code == 404


def test_people_in_a_farm(api: FleetUnderTest) -> None:
    engine = api.app.state.engine
    ana_id = add_user(engine, "ana@farm.example", {1: "admin"})
    csrf = signed_in(api.client, "ana@farm.example")
    bo = api.client.post("/api/v1/users", headers=csrf, json={
        "email": "Bo@Farm.Example", "password": "bo's long password", "farm_id": 1,
        "role": "technician", "language": "vi"})
    assert bo.status_code == 201, bo.text
    assert bo.json()["email"] == "bo@farm.example"
    assert bo.json()["memberships"][0]["role"] == "technician"
    again = api.client.post("/api/v1/users", headers=csrf, json={
        "email": "BO@farm.example", "password": "another long one", "farm_id": 1})
    assert again.status_code == 409
    last = api.client.patch(f"/api/v1/memberships/{ana_id}/1", json={"role": "viewer"},
                            headers=csrf)
    assert last.status_code == 409  # the farm's last admin
    bo_id = bo.json()["id"]
    _, bo_secret = personal_token(engine, bo_id)
    assert api.client.get("/api/v1/devices", headers=bearer(bo_secret)).status_code == 200
    off = api.client.patch(f"/api/v1/users/{bo_id}", json={"active": False}, headers=csrf)
    assert off.status_code == 200 and off.json()["active"] is False
    assert api.client.get("/api/v1/devices", headers=bearer(bo_secret)).status_code == 401
    self_off = api.client.patch(f"/api/v1/users/{bo_id}", json={"active": True},
                                headers=bearer(bo_secret))
    assert self_off.status_code == 401
    gone = api.client.delete(f"/api/v1/users/{bo_id}", headers=csrf)
    assert gone.status_code == 204
    assert api.client.delete(f"/api/v1/users/{ana_id}", headers=csrf).status_code == 409
