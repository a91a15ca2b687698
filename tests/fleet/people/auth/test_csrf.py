"""CSRF protection specifies: a write made with the session cookie is refused (403) without the
X-CSRF-Token header or with a wrong one, and goes through with the session's token (header or
csrf_token form field); reads need no token, and bearer-token writes need none."""

from __future__ import annotations

from tests.fleet.conftest import FleetUnderTest
from tests.fleet.people.auth.people import add_user, bearer, personal_token, signed_in


def test_cookie_writes_need_the_sessions_csrf_token(api: FleetUnderTest) -> None:
    add_user(api.app.state.engine, "ana@farm.example", {1: "technician"})
    csrf = signed_in(api.client, "ana@farm.example")
    missing = api.client.post("/api/v1/devices", json={"id": "n1"})
    assert missing.status_code == 403 and "CSRF" in missing.json()["detail"]
    wrong = api.client.post("/api/v1/devices", json={"id": "n1"},
                            headers={"X-CSRF-Token": "0" * 64})
    assert wrong.status_code == 403
    assert api.get("/api/v1/devices") == []  # nothing was registered
    assert api.client.get("/api/v1/devices").status_code == 200  # reads need no token
    ok = api.client.post("/api/v1/devices", json={"id": "n1"}, headers=csrf)
    assert ok.status_code == 201, ok.text


def test_a_form_post_may_carry_the_token_as_a_field(api: FleetUnderTest) -> None:
    add_user(api.app.state.engine, "ana@farm.example", {1: "admin"})
    csrf = signed_in(api.client, "ana@farm.example")["X-CSRF-Token"]
    refused = api.client.post("/api/v1/auth/logout", data={"csrf_token": "wrong"})
    assert refused.status_code == 403
    out = api.client.post("/api/v1/auth/logout", data={"csrf_token": csrf})
    assert out.status_code == 200, out.text


def test_another_sessions_token_does_not_fit(api: FleetUnderTest) -> None:
    add_user(api.app.state.engine, "ana@farm.example", {1: "technician"})
    first = signed_in(api.client, "ana@farm.example")
    signed_in(api.client, "ana@farm.example")  # a new session replaces the cookie
    response = api.client.post("/api/v1/devices", json={"id": "n1"}, headers=first)
    assert response.status_code == 403


def test_bearer_writes_need_no_csrf_token(api: FleetUnderTest) -> None:
    user_id = add_user(api.app.state.engine, "ana@farm.example", {1: "technician"})
    _, secret = personal_token(api.app.state.engine, user_id)
    response = api.client.post("/api/v1/devices", json={"id": "n1"}, headers=bearer(secret))
    assert response.status_code == 201, response.text
