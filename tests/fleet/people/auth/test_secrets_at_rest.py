"""Secrets at rest specify: a user's password is stored only as an argon2id hash, and after
signing in, making a personal token and a service token, no table of the database holds the
password, the session cookie, the CSRF token or either token in plain text."""

from __future__ import annotations

from sqlalchemy import Engine, MetaData, select
from sqlmodel import Session

from agrifleet.fleet.people.auth.passwords import verify_password
from agrifleet.fleet.people.tables import User
from tests.fleet.conftest import FleetUnderTest
from tests.fleet.people.auth.people import PASSWORD, add_user, signed_in


def _dump(engine: Engine) -> str:
    """Every row of every table, as text."""
    metadata = MetaData()
    metadata.reflect(engine)
    rows = []
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            rows += [repr(tuple(row)) for row in conn.execute(select(table))]
    return "\n".join(rows)


def test_no_secret_is_stored_in_plain_text(api: FleetUnderTest) -> None:
    engine = api.app.state.engine
    user_id = add_user(engine, "ana@farm.example", {1: "admin"})
    csrf = signed_in(api.client, "ana@farm.example")
    made = api.client.post("/api/v1/tokens", json={"name": "laptop"}, headers=csrf)
    assert made.status_code == 201
    other = api.client.post("/api/v1/users", headers=csrf, json={
        "email": "bo@farm.example", "password": "another long password", "farm_id": 1})
    assert other.status_code == 201, other.text
    with Session(engine) as session:
        user = session.get(User, user_id)
        assert user is not None and user.password_hash.startswith("$argon2id$")
        assert verify_password(user.password_hash, PASSWORD)
    dump = _dump(engine)
    assert "ana@farm.example" in dump  # the dump is real
    secrets = {"password": PASSWORD, "other password": "another long password",
               "cookie": api.client.cookies["agrifleet_session"],
               "csrf": csrf["X-CSRF-Token"], "personal token": made.json()["token"],
               "service token": api.admin["Authorization"].split()[1]}
    found = [name for name, secret in secrets.items() if secret in dump]
    assert not found, found
