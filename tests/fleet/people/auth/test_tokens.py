"""Personal tokens specify: a signed-in user makes a named token with an expiry, shown once and
stored as a hash; it acts with the owner's roles; the owner lists and revokes it, after which
(or after its expiry) it is a 401; a service token cannot make one; another farm's admin
cannot see or revoke it, an admin of the owner's farm can."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from agrifleet.fleet.people.tables import UserToken
from tests.fleet.conftest import FleetUnderTest
from tests.fleet.people.auth.people import add_farm, add_user, bearer, personal_token, signed_in


def test_make_use_list_and_revoke_a_personal_token(api: FleetUnderTest) -> None:
    engine = api.app.state.engine
    add_user(engine, "ana@farm.example", {1: "technician"})
    csrf = signed_in(api.client, "ana@farm.example")
    made = api.client.post("/api/v1/tokens", json={"name": "laptop", "expires_days": 7},
                           headers=csrf)
    assert made.status_code == 201, made.text
    body = made.json()
    secret = body["token"]
    assert secret.startswith("agu_") and body["name"] == "laptop"
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(days=6.9) < expires - datetime.now(UTC) <= timedelta(days=7)
    with Session(engine) as session:
        row = session.exec(select(UserToken)).one()
        assert secret not in row.token_hash and len(row.token_hash) == 64
    use = api.client.post("/api/v1/devices", json={"id": "n1"}, headers=bearer(secret))
    assert use.status_code == 201, use.text  # the owner's technician role, no CSRF needed
    listed = api.client.get("/api/v1/tokens").json()
    assert [t["name"] for t in listed] == ["laptop"] and "token" not in listed[0]
    revoked = api.client.delete(f"/api/v1/tokens/{body['id']}", headers=csrf)
    assert revoked.status_code == 204
    after = api.client.get("/api/v1/devices", headers=bearer(secret))
    assert after.status_code == 401


def test_an_expired_token_is_a_401(api: FleetUnderTest) -> None:
    user_id = add_user(api.app.state.engine, "ana@farm.example", {1: "viewer"})
    _, secret = personal_token(api.app.state.engine, user_id, expired=True)
    assert api.client.get("/api/v1/devices", headers=bearer(secret)).status_code == 401


def test_a_service_token_cannot_make_a_personal_token(api: FleetUnderTest) -> None:
    response = api.client.post("/api/v1/tokens", json={"name": "x"}, headers=api.admin)
    assert response.status_code == 403


def test_only_the_owner_or_their_farms_admin_revokes(api: FleetUnderTest) -> None:
    engine = api.app.state.engine
    bravo = add_farm(engine, "Bravo")
    owner = add_user(engine, "ana@farm.example", {1: "viewer"})
    token_id, secret = personal_token(engine, owner)
    stranger = add_user(engine, "bo@bravo.example", {bravo: "admin"})
    _, stranger_secret = personal_token(engine, stranger)
    refused = api.client.delete(f"/api/v1/tokens/{token_id}", headers=bearer(stranger_secret))
    assert refused.status_code == 404
    assert api.client.get("/api/v1/devices", headers=bearer(secret)).status_code == 200
    admin = add_user(engine, "chi@farm.example", {1: "admin"})
    _, admin_secret = personal_token(engine, admin)
    done = api.client.delete(f"/api/v1/tokens/{token_id}", headers=bearer(admin_secret))
    assert done.status_code == 204
    assert api.client.get("/api/v1/devices", headers=bearer(secret)).status_code == 401
