"""The audit log specifies: sign-ins, failed sign-ins, sign-outs, people, tokens, farms and
devices are recorded with who, what, target, when and the client's address (X-Forwarded-For
only from a trusted proxy), never with a secret; GET /api/v1/audit filters them for fleet
admins and refuses everyone else."""

from __future__ import annotations

import httpx
from sqlmodel import Session, col, select

from agrifleet.fleet.app import create_app
from agrifleet.fleet.people.tables import AuditEntry
from agrifleet.fleet.settings import FleetSettings
from tests.fleet.conftest import FleetUnderTest
from tests.fleet.people.auth.people import (
    PASSWORD,
    add_farm,
    add_user,
    bearer,
    personal_token,
    signed_in,
)
from tests.fleet.web.api.server import serving


def _audit(api: FleetUnderTest, **params: str | int) -> list[dict[str, object]]:
    response = api.client.get("/api/v1/audit", headers=api.admin, params=params)
    assert response.status_code == 200, response.text
    entries: list[dict[str, object]] = response.json()
    return entries


def test_actions_are_recorded_without_secrets(api: FleetUnderTest) -> None:
    add_user(api.app.state.engine, "ana@farm.example", {1: "admin"})
    assert api.client.post("/api/v1/auth/login", json={
        "email": "ana@farm.example", "password": "wrong password"}).status_code == 401
    csrf = signed_in(api.client, "ana@farm.example")
    steps = [
        api.client.post("/api/v1/devices", json={"id": "n1", "name": "North"}, headers=csrf),
        api.client.patch("/api/v1/devices/n1", json={"tags": ["a"]}, headers=csrf),
        api.client.post("/api/v1/users", headers=csrf, json={
            "email": "bo@farm.example", "password": "bo's long password", "farm_id": 1}),
        api.client.post("/api/v1/tokens", json={"name": "laptop"}, headers=csrf),
        api.client.post("/api/v1/farms", json={"name": "Hill"}, headers=csrf),
        api.client.post("/api/v1/auth/logout", headers=csrf),
    ]
    assert [s.status_code for s in steps] == [201, 200, 201, 201, 201, 200]
    entries = _audit(api, order="asc")
    assert [e["action"] for e in entries] == [
        "login_failed", "login", "device.create", "device.update", "user.create",
        "token.create", "farm.create", "logout"]
    assert {e["actor"] for e in entries} == {"ana@farm.example"}
    assert entries[2]["target"] == "n1" and entries[4]["target"] == "bo@farm.example"
    assert all(e["address"] == "testclient" and e["ts"] for e in entries)
    assert entries[0]["details"] == {"reason": "wrong password", "device": "new"}
    text = str(entries)
    assert PASSWORD not in text and "bo's long password" not in text
    assert steps[3].json()["token"] not in text


def test_the_log_filters_and_pages(api: FleetUnderTest) -> None:
    add_user(api.app.state.engine, "ana@farm.example", {1: "viewer"})
    for _ in range(3):
        api.client.post("/api/v1/auth/login", json={"email": "ana@farm.example",
                                                     "password": "wrong password"})
    signed_in(api.client, "ana@farm.example")
    assert len(_audit(api, action="login_failed")) == 3
    assert [e["action"] for e in _audit(api, actor="ana@farm.example", limit=1)] == ["login"]
    assert len(_audit(api, action="login_failed", limit=2, offset=2)) == 1
    assert _audit(api, target="nobody") == []
    assert _audit(api, since="9000-01-01T00:00:00Z") == []
    assert len(_audit(api, until="9000-01-01T00:00:00Z")) == 4
    bad = api.client.get("/api/v1/audit", headers=api.admin, params={"limit": 0})
    assert bad.status_code == 422


def test_only_fleet_admins_read_the_log(api: FleetUnderTest) -> None:
    engine = api.app.state.engine
    assert api.client.get("/api/v1/audit", headers=api.viewer).status_code == 403
    farm_admin = add_user(engine, "ana@farm.example", {1: "admin"})
    _, secret = personal_token(engine, farm_admin)
    assert api.client.get("/api/v1/audit", headers=bearer(secret)).status_code == 200
    add_farm(engine, "Another")  # Ana is no longer admin of every farm
    assert api.client.get("/api/v1/audit", headers=bearer(secret)).status_code == 403


def test_forwarded_for_counts_only_from_a_trusted_proxy(database_url: str) -> None:
    for trusted, expected in (((), "127.0.0.1"), (("127.0.0.0/8",), "203.0.113.9")):
        settings = FleetSettings(database_url=database_url, trusted_proxies=trusted)
        app = create_app(settings)
        with serving(app) as base:
            response = httpx.post(f"{base}/api/v1/auth/login",
                                  json={"email": "x@farm.example", "password": "wrong one"},
                                  headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.9"},
                                  timeout=60)  # argon2 on a busy machine
            assert response.status_code in (401, 429)
            with Session(app.state.engine) as session:
                last = session.exec(select(AuditEntry).order_by(col(AuditEntry.id).desc())).first()
            assert last is not None and last.address == expected, (trusted, last)
