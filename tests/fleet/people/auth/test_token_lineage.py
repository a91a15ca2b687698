"""Tokens never outlive what made them: a token made with a token expires no later than its
parent and dies when the parent is revoked or expires (on use, and by cascade); a password
change or reset revokes the user's personal tokens and ends their sessions (unless asked to
keep the tokens); each role has a longest token lifetime, and asking for more is a 422."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from agrifleet.fleet.people.tables import UserToken
from agrifleet.fleet.settings import FleetSettings
from tests.fleet.conftest import FleetUnderTest, running_fleet
from tests.fleet.people.auth.people import PASSWORD, add_user, bearer, signed_in

NEW_PASSWORD = "a brand new passphrase"


def _expires(body: dict[str, str]) -> datetime:
    return datetime.fromisoformat(body["expires_at"])


def _make(api: FleetUnderTest, headers: dict[str, str], **body: object) -> dict[str, str]:
    made = api.client.post("/api/v1/tokens", json={"name": "t", **body}, headers=headers)
    assert made.status_code == 201, made.text
    result: dict[str, str] = made.json()
    return result


def test_a_one_day_token_cannot_mint_a_longer_lived_one(api: FleetUnderTest) -> None:
    add_user(api.app.state.engine, "ana@farm.example", {1: "viewer"})
    csrf = signed_in(api.client, "ana@farm.example")
    parent = _make(api, csrf, expires_days=1)
    api.client.cookies.clear()
    # The attack: a 3,660-day token from a 1-day one is refused outright (a viewer's longest
    # is 90 days) ...
    refused = api.client.post("/api/v1/tokens", json={"name": "forever", "expires_days": 3660},
                              headers=bearer(parent["token"]))
    assert refused.status_code == 422 and "90 days" in refused.json()["detail"]
    # ... and an allowed 90 days is cut to the parent's expiry.
    child = _make(api, bearer(parent["token"]), expires_days=90)
    assert _expires(child) <= _expires(parent)
    assert child["parent_id"] == parent["id"]
    grandchild = _make(api, bearer(child["token"]))
    assert _expires(grandchild) <= _expires(parent)
    assert api.client.get("/api/v1/devices", headers=bearer(grandchild["token"])).status_code == 200


def test_revoking_a_parent_revokes_its_children_and_grandchildren(api: FleetUnderTest) -> None:
    add_user(api.app.state.engine, "ana@farm.example", {1: "viewer"})
    csrf = signed_in(api.client, "ana@farm.example")
    parent = _make(api, csrf, expires_days=1)
    child = _make(api, bearer(parent["token"]))
    grandchild = _make(api, bearer(child["token"]))
    sibling = _make(api, csrf, expires_days=5)  # made with the session: not a descendant
    assert api.client.delete(f"/api/v1/tokens/{parent['id']}", headers=csrf).status_code == 204
    for token in (parent, child, grandchild):
        assert api.client.get("/api/v1/devices",
                              headers=bearer(token["token"])).status_code == 401, token["name"]
    listed = {t["id"]: t for t in api.client.get("/api/v1/tokens").json()}
    assert listed[child["id"]]["revoked_at"] and listed[grandchild["id"]]["revoked_at"]
    assert listed[sibling["id"]]["revoked_at"] is None
    assert api.client.get("/api/v1/devices", headers=bearer(sibling["token"])).status_code == 200


def test_a_child_dies_with_its_parent_even_without_the_cascade(api: FleetUnderTest) -> None:
    """Checked on use: a parent revoked or expired in the database (an older fleet's
    revocation, a clock passing) takes its descendants with it."""
    engine = api.app.state.engine
    add_user(engine, "ana@farm.example", {1: "viewer"})
    csrf = signed_in(api.client, "ana@farm.example")
    parent = _make(api, csrf, expires_days=2)
    child = _make(api, bearer(parent["token"]))
    with Session(engine) as session:
        row = session.get(UserToken, parent["id"])
        assert row is not None
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        session.add(row)
        session.commit()
    assert api.client.get("/api/v1/devices", headers=bearer(child["token"])).status_code == 401


def test_a_password_change_ends_sessions_and_revokes_tokens(api: FleetUnderTest) -> None:
    user_id = add_user(api.app.state.engine, "ana@farm.example", {1: "viewer"})
    csrf = signed_in(api.client, "ana@farm.example")
    token = _make(api, csrf, expires_days=30)
    changed = api.client.patch(f"/api/v1/users/{user_id}", json={"password": NEW_PASSWORD},
                               headers=csrf)
    assert changed.status_code == 200, changed.text
    assert api.client.get("/api/v1/auth/me").status_code == 401  # the session ended
    api.client.cookies.clear()
    assert api.client.get("/api/v1/devices", headers=bearer(token["token"])).status_code == 401
    signed_in(api.client, "ana@farm.example", NEW_PASSWORD)


def test_a_password_change_may_keep_the_personal_tokens(api: FleetUnderTest) -> None:
    user_id = add_user(api.app.state.engine, "ana@farm.example", {1: "viewer"})
    csrf = signed_in(api.client, "ana@farm.example")
    token = _make(api, csrf, expires_days=30)
    changed = api.client.patch(f"/api/v1/users/{user_id}", headers=csrf,
                               json={"password": NEW_PASSWORD, "keep_personal_tokens": True})
    assert changed.status_code == 200, changed.text
    assert api.client.get("/api/v1/auth/me").status_code == 401  # sessions always end
    api.client.cookies.clear()
    assert api.client.get("/api/v1/devices", headers=bearer(token["token"])).status_code == 200


def test_an_admins_password_reset_revokes_the_users_tokens(api: FleetUnderTest) -> None:
    engine = api.app.state.engine
    user_id = add_user(engine, "ana@farm.example", {1: "viewer"})
    add_user(engine, "boss@farm.example", {1: "admin"})
    ana = signed_in(api.client, "ana@farm.example")
    token = _make(api, ana, expires_days=30)
    api.client.cookies.clear()
    boss = signed_in(api.client, "boss@farm.example")
    reset = api.client.patch(f"/api/v1/users/{user_id}", json={"password": NEW_PASSWORD},
                             headers=boss)
    assert reset.status_code == 200, reset.text
    assert api.client.get("/api/v1/devices", headers=bearer(token["token"])).status_code == 401
    assert api.client.get("/api/v1/auth/me").status_code == 200  # the admin stays signed in


def test_the_longest_lifetime_follows_the_highest_role(database_url: str) -> None:
    settings = FleetSettings(database_url=database_url, token_max_days_admin=7)
    with running_fleet(settings) as api:
        add_user(api.app.state.engine, "boss@farm.example", {1: "admin"})
        csrf = signed_in(api.client, "boss@farm.example", PASSWORD)
        refused = api.client.post("/api/v1/tokens", json={"name": "t", "expires_days": 8},
                                  headers=csrf)
        assert refused.status_code == 422 and "admin" in refused.json()["detail"]
        unset = _make(api, csrf)  # no expires_days: the role's longest
        left = _expires(unset) - datetime.now(UTC)
        assert timedelta(days=6.9) < left <= timedelta(days=7)
