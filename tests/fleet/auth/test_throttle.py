"""Login throttling specifies: after 5 failed sign-ins of an account within the window the
next attempt is a 429 with Retry-After, even with the right password; a successful sign-in
clears the account's failures; an address that fails too often on many accounts is held too;
each failure is in the audit log."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import Session, col, select

from fleet.people import AuditEntry
from fleet.settings import FleetSettings
from tests.fleet.auth.people import add_user, login
from tests.fleet.conftest import FleetUnderTest, running_fleet


def test_five_failures_hold_the_account(api: FleetUnderTest) -> None:
    add_user(api.app.state.engine, "ana@farm.example", {1: "viewer"})
    for _ in range(5):
        assert login(api.client, "ana@farm.example", "guess guess guess").status_code == 401
    held = login(api.client, "ana@farm.example")  # the right password, too late
    assert held.status_code == 429, held.text
    assert 0 < int(held.headers["Retry-After"]) <= 900
    assert "agrifleet_session" not in api.client.cookies
    with Session(api.app.state.engine) as session:
        actions = session.exec(select(AuditEntry.action).where(
            col(AuditEntry.target) == "ana@farm.example")).all()
    assert actions.count("login_failed") == 5 and "login_throttled" in actions


def test_a_successful_sign_in_clears_the_account(api: FleetUnderTest) -> None:
    add_user(api.app.state.engine, "ana@farm.example", {1: "viewer"})
    for _ in range(4):
        assert login(api.client, "ana@farm.example", "guess guess guess").status_code == 401
    assert login(api.client, "ana@farm.example").status_code == 200
    for _ in range(4):
        assert login(api.client, "ana@farm.example", "guess guess guess").status_code == 401
    assert login(api.client, "ana@farm.example").status_code == 200


@pytest.fixture
def strict(migrated_database_url: str) -> Iterator[FleetUnderTest]:
    settings = FleetSettings(database_url=migrated_database_url, login_max_failures_per_address=3)
    with running_fleet(settings) as running:
        yield running


def test_an_address_guessing_at_many_accounts_is_held(strict: FleetUnderTest) -> None:
    add_user(strict.app.state.engine, "ana@farm.example", {1: "viewer"})
    for n in range(3):
        assert login(strict.client, f"user{n}@farm.example").status_code == 401
    held = login(strict.client, "ana@farm.example")
    assert held.status_code == 429 and int(held.headers["Retry-After"]) > 0
