"""A farm admin cannot pull another farm's user into their farm: ``POST /memberships`` with
such an id answers 404 exactly as an unknown id does, ``GET /users/{id}`` too; the person joins
only by accepting an invitation made for their e-mail (or a fleet admin adds them), and after
that the farm's admin sees only the farm's own membership, not the person's roles elsewhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session, select

from agrifleet.fleet.people.tables import Invitation
from tests.fleet.conftest import FleetUnderTest
from tests.fleet.people.auth.people import add_farm, add_user, signed_in

UNKNOWN_ID = 999_999


def _two_farms(api: FleetUnderTest) -> tuple[int, int, int]:
    """Farm 1 with its admin and Ana (a technician there); farm Bravo with its admin Bo."""
    engine = api.app.state.engine
    bravo = add_farm(engine, "Bravo")
    add_farm(engine, "Charlie")  # so Bo, admin of Bravo only, is not a fleet admin
    add_user(engine, "root@alpha.example", {1: "admin"})
    ana = add_user(engine, "ana@alpha.example", {1: "technician"})
    bo = add_user(engine, "bo@bravo.example", {bravo: "admin"})
    return bravo, ana, bo


def _without_id(response: Any, user_id: int) -> tuple[int, str]:
    return response.status_code, response.json()["detail"].replace(f"user {user_id}", "user N")


def test_another_farms_user_cannot_be_pulled_in_and_looks_unknown(api: FleetUnderTest) -> None:
    bravo, ana, _ = _two_farms(api)
    csrf = signed_in(api.client, "bo@bravo.example")
    pulled = api.client.post("/api/v1/memberships", headers=csrf,
                             json={"user_id": ana, "farm_id": bravo, "role": "viewer"})
    unknown = api.client.post("/api/v1/memberships", headers=csrf,
                              json={"user_id": UNKNOWN_ID, "farm_id": bravo, "role": "viewer"})
    assert pulled.status_code == 404
    assert _without_id(pulled, ana) == _without_id(unknown, UNKNOWN_ID)
    seen = api.client.get(f"/api/v1/users/{ana}")
    assert _without_id(seen, ana) == _without_id(api.client.get(f"/api/v1/users/{UNKNOWN_ID}"),
                                                 UNKNOWN_ID)
    assert "ana@alpha.example" not in seen.text
    members = api.client.get("/api/v1/memberships").json()
    assert {m["farm_id"] for m in members} == {bravo}


def test_an_accepted_invitation_makes_a_member_and_leaks_no_other_farm(
        api: FleetUnderTest) -> None:
    bravo, ana, _ = _two_farms(api)
    bo_csrf = signed_in(api.client, "bo@bravo.example")
    made = api.client.post(f"/api/v1/farms/{bravo}/invitations", headers=bo_csrf,
                           json={"email": "Ana@Alpha.example", "role": "viewer"})
    assert made.status_code == 201, made.text
    invitation = made.json()
    assert invitation["token"].startswith("agi_") and invitation["email"] == "ana@alpha.example"
    with Session(api.app.state.engine) as session:
        stored = session.exec(select(Invitation)).one()
        assert invitation["token"] not in stored.token_hash
    secret = invitation["token"]
    # Bo cannot accept it for Ana, nor can a third person who got hold of the secret.
    refused = api.client.post(f"/api/v1/invitations/{secret}/accept", headers=bo_csrf)
    assert refused.status_code == 404
    api.client.cookies.clear()
    ana_csrf = signed_in(api.client, "ana@alpha.example")
    accepted = api.client.post(f"/api/v1/invitations/{secret}/accept", headers=ana_csrf)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json() | {"created_at": None} == {
        "user_id": ana, "farm_id": bravo, "role": "viewer", "created_at": None}
    again = api.client.post(f"/api/v1/invitations/{secret}/accept", headers=ana_csrf)
    assert again.status_code == 404  # used once
    api.client.cookies.clear()
    signed_in(api.client, "bo@bravo.example")
    shown = api.client.get(f"/api/v1/users/{ana}")
    assert shown.status_code == 200
    assert [(m["farm_id"], m["role"]) for m in shown.json()["memberships"]] == [
        (bravo, "viewer")]  # not her technician role in farm 1
    listed = api.client.get(f"/api/v1/farms/{bravo}/invitations")
    assert listed.json()[0]["accepted_at"] is not None and "token" not in listed.json()[0]


def test_an_invitation_says_nothing_of_whether_the_address_has_an_account(
        api: FleetUnderTest) -> None:
    bravo, _, _ = _two_farms(api)
    csrf = signed_in(api.client, "bo@bravo.example")
    answers = [api.client.post(f"/api/v1/farms/{bravo}/invitations", headers=csrf,
                               json={"email": email, "role": "viewer"})
               for email in ("ana@alpha.example", "nobody@nowhere.example")]
    shapes = [(r.status_code, sorted(r.json())) for r in answers]
    assert shapes[0] == shapes[1] and shapes[0][0] == 201


def test_only_an_admin_of_the_farm_invites_to_it(api: FleetUnderTest) -> None:
    _two_farms(api)
    csrf = signed_in(api.client, "bo@bravo.example")
    into_alpha = api.client.post("/api/v1/farms/1/invitations", headers=csrf,
                                 json={"email": "x@y.example", "role": "admin"})
    assert into_alpha.status_code == 404
    api.client.cookies.clear()
    ana = signed_in(api.client, "ana@alpha.example")  # a technician of farm 1
    assert api.client.post("/api/v1/farms/1/invitations", headers=ana,
                           json={"email": "x@y.example"}).status_code == 403


def test_an_expired_or_withdrawn_invitation_is_not_accepted(api: FleetUnderTest) -> None:
    bravo, _, _ = _two_farms(api)
    bo = signed_in(api.client, "bo@bravo.example")
    first = api.client.post(f"/api/v1/farms/{bravo}/invitations", headers=bo,
                            json={"email": "ana@alpha.example"}).json()
    second = api.client.post(f"/api/v1/farms/{bravo}/invitations", headers=bo,
                             json={"email": "ana@alpha.example"}).json()
    assert api.client.delete(f"/api/v1/farms/{bravo}/invitations/{second['id']}",
                             headers=bo).status_code == 204
    with Session(api.app.state.engine) as session:
        row = session.get(Invitation, first["id"])
        assert row is not None
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        session.add(row)
        session.commit()
    api.client.cookies.clear()
    ana = signed_in(api.client, "ana@alpha.example")
    for invitation in (first, second):
        assert api.client.post(f"/api/v1/invitations/{invitation['token']}/accept",
                               headers=ana).status_code == 404


def test_a_fleet_admin_or_an_admin_who_manages_the_person_adds_directly(
        api: FleetUnderTest) -> None:
    bravo, ana, bo = _two_farms(api)
    direct = api.client.post("/api/v1/memberships", headers=api.admin,
                             json={"user_id": ana, "farm_id": bravo, "role": "viewer"})
    assert direct.status_code == 201, direct.text  # a service admin token: the fleet's admin
    # Bo runs Bravo and Charlie; Cai is only in Bravo: Bo manages Cai and may add him to Charlie.
    charlie = 3
    assert api.client.post("/api/v1/memberships", headers=api.admin,
                           json={"user_id": bo, "farm_id": charlie, "role": "admin"}
                           ).status_code == 201
    cai = add_user(api.app.state.engine, "cai@bravo.example", {bravo: "viewer"})
    csrf = signed_in(api.client, "bo@bravo.example")
    added = api.client.post("/api/v1/memberships", headers=csrf,
                            json={"user_id": cai, "farm_id": charlie, "role": "viewer"})
    assert added.status_code == 201, added.text
