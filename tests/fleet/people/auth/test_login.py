"""Signing in specifies: the right e-mail (in any case) and password give a session cookie that
is HttpOnly and SameSite=Lax (Secure over https or when the setting says so) and a readable CSRF
cookie; wrong credentials or an inactive user are a 401; /auth/me names the user, their farms
and language; signing out, or the session expiring, ends the cookie's access."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from agrifleet.fleet.app import create_app
from agrifleet.fleet.people.tables import User, UserSession
from agrifleet.fleet.settings import FleetSettings
from tests.fleet.conftest import FleetUnderTest
from tests.fleet.people.auth.people import PASSWORD, add_user, login, signed_in


def _set_cookies(response: object) -> dict[str, str]:
    headers = response.headers.get_list("set-cookie")  # type: ignore[attr-defined]
    return {h.split("=", 1)[0]: h for h in headers}


def test_sign_in_sets_a_guarded_session_cookie(api: FleetUnderTest) -> None:
    add_user(api.app.state.engine, "ana@farm.example", {1: "technician"})
    response = login(api.client, "Ana@Farm.Example")
    assert response.status_code == 200, response.text
    cookies = _set_cookies(response)
    session_cookie = cookies["agrifleet_session"].lower()
    assert "httponly" in session_cookie and "samesite=lax" in session_cookie
    assert "path=/" in session_cookie and "secure" not in session_cookie  # plain http
    csrf_cookie = cookies["agrifleet_csrf"].lower()
    assert "httponly" not in csrf_cookie and "samesite=lax" in csrf_cookie
    body = response.json()
    assert body["kind"] == "user" and body["name"] == "ana@farm.example"
    assert body["csrf_token"] == api.client.cookies["agrifleet_csrf"]
    assert body["user"]["memberships"][0] | {"created_at": None} == {
        "user_id": body["user"]["id"], "farm_id": 1, "role": "technician", "created_at": None}
    assert api.client.get("/api/v1/devices").status_code == 200  # the cookie alone reads


def test_the_cookie_is_secure_over_https_or_when_configured(database_url: str) -> None:
    for settings, base in ((FleetSettings(database_url=database_url), "https://fleet.example"),
                           (FleetSettings(database_url=database_url, cookie_secure=True),
                            "http://fleet.example")):
        with TestClient(create_app(settings), base_url=base) as client:
            engine = client.app.state.engine  # type: ignore[attr-defined]
            with Session(engine) as session:
                known = session.exec(select(User)).first()
            if known is None:
                add_user(engine, "ana@farm.example", {1: "viewer"})
            response = login(client, "ana@farm.example")
            assert response.status_code == 200, response.text
            for header in _set_cookies(response).values():
                assert "; secure" in header.lower(), header


def test_wrong_credentials_are_a_401_and_say_no_more(api: FleetUnderTest) -> None:
    add_user(api.app.state.engine, "ana@farm.example", {1: "viewer"})
    wrong = login(api.client, "ana@farm.example", "not the password")
    unknown = login(api.client, "nobody@farm.example")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "wrong e-mail or password"}
    assert "agrifleet_session" not in _set_cookies(wrong)
    assert api.client.get("/api/v1/devices").status_code == 401
    bad = api.client.post("/api/v1/auth/login", json={"email": "ana@farm.example"})
    assert bad.status_code == 422


def test_an_inactive_user_cannot_sign_in(api: FleetUnderTest) -> None:
    user_id = add_user(api.app.state.engine, "ana@farm.example", {1: "viewer"})
    with Session(api.app.state.engine) as session:
        user = session.get(User, user_id)
        assert user is not None
        user.active = False
        session.add(user)
        session.commit()
    assert login(api.client, "ana@farm.example").status_code == 401


def test_me_names_the_user_or_the_service_token(api: FleetUnderTest) -> None:
    add_user(api.app.state.engine, "ana@farm.example", {1: "admin"})
    signed_in(api.client, "ana@farm.example")
    api.client.patch("/api/v1/users/1", json={"language": "vi"},
                     headers={"X-CSRF-Token": api.client.cookies["agrifleet_csrf"]})
    me = api.client.get("/api/v1/auth/me").json()
    assert me["language"] == "vi" and me["user"]["email"] == "ana@farm.example"
    assert me["csrf_token"] == api.client.cookies["agrifleet_csrf"]
    # A bearer token decides even when a session cookie comes along.
    service = api.client.get("/api/v1/auth/me", headers=api.admin).json()
    assert service["kind"] == "service" and service["role"] == "admin"
    assert service["user"] is None and service["csrf_token"] is None


def test_signing_out_ends_the_session(api: FleetUnderTest) -> None:
    add_user(api.app.state.engine, "ana@farm.example", {1: "viewer"})
    csrf = signed_in(api.client, "ana@farm.example")
    cookie = api.client.cookies["agrifleet_session"]
    out = api.client.post("/api/v1/auth/logout", headers=csrf)
    assert out.status_code == 200, out.text
    with Session(api.app.state.engine) as session:
        assert session.exec(select(UserSession)).all() == []
    api.client.cookies.clear()
    api.client.cookies.set("agrifleet_session", cookie)
    again = api.client.get("/api/v1/devices")
    assert again.status_code == 401


def test_an_expired_session_is_a_401(api: FleetUnderTest) -> None:
    add_user(api.app.state.engine, "ana@farm.example", {1: "viewer"})
    signed_in(api.client, "ana@farm.example", PASSWORD)
    with Session(api.app.state.engine) as session:
        row = session.exec(select(UserSession)).one()
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        session.add(row)
        session.commit()
    response = api.client.get("/api/v1/devices")
    assert response.status_code == 401 and "expired" in response.json()["detail"]
