"""Sign-in throttling specifies: an account's failures beyond the free ones make the next
attempt wait, and the wait doubles with each further failure (no flat lock-out); an address
guessing at many accounts waits too; but a browser that signed in as the person before (its
device cookie) is never held by the account's or the address's failures, so a stranger behind
a farm's NAT locks nobody out; a forged or another person's device cookie helps nothing; each
attempt is counted in /metrics and in the audit log, never with the password; the farm's admin
lists the failed attempts on the farm's people."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from agrifleet.fleet.people.auth.throttle import Backoff
from agrifleet.fleet.people.tables import AuditEntry, LoginFailure
from agrifleet.fleet.settings import FleetSettings
from tests.fleet.conftest import FleetUnderTest, running_fleet
from tests.fleet.people.auth.people import PASSWORD, add_farm, add_user, login, signed_in

GUESS = "guess guess guess"


@pytest.fixture
def held(migrated_database_url: str) -> Iterator[FleetUnderTest]:
    """Waits long enough (60 s, doubling) that a slow machine never outlasts one."""
    settings = FleetSettings(database_url=migrated_database_url, login_delay_s=60,
                             login_max_failures_per_address=8)
    with running_fleet(settings) as running:
        yield running


def _browser(api: FleetUnderTest) -> TestClient:
    """Another browser on the same address: its own cookie jar."""
    return TestClient(api.app)


def _age_failures(api: FleetUnderTest, seconds: float) -> None:
    """Move every stored failure back in time, as if the caller had waited."""
    with Session(api.app.state.engine) as session:
        for row in session.exec(select(LoginFailure)).all():
            row.ts = row.ts - timedelta(seconds=seconds)
            session.add(row)
        session.commit()


def test_the_wait_doubles_from_the_first_delay_up_to_the_longest() -> None:
    rule = Backoff(free=5, base_s=5, max_s=900, window_s=3600)
    assert [rule.delay(n) for n in range(4, 11)] == [0, 5, 10, 20, 40, 80, 160]
    assert rule.delay(10_000) == 900


def test_failures_beyond_the_free_ones_hold_the_account_with_growing_waits(
        held: FleetUnderTest) -> None:
    add_user(held.app.state.engine, "ana@farm.example", {1: "viewer"})
    stranger = _browser(held)
    for _ in range(5):
        assert login(stranger, "ana@farm.example", GUESS).status_code == 401
    first = login(stranger, "ana@farm.example")  # the right password, but from a stranger
    assert first.status_code == 429, first.text
    assert 50 < int(first.headers["Retry-After"]) <= 60
    assert "agrifleet_session" not in stranger.cookies
    _age_failures(held, 61)  # the wait is over: one more guess is heard, and fails
    assert login(stranger, "ana@farm.example", GUESS).status_code == 401
    second = login(stranger, "ana@farm.example", GUESS)
    assert second.status_code == 429 and 110 < int(second.headers["Retry-After"]) <= 120
    with Session(held.app.state.engine) as session:
        actions = session.exec(select(AuditEntry.action).where(
            col(AuditEntry.target) == "ana@farm.example")).all()
    assert actions.count("login_failed") == 6 and actions.count("login_throttled") == 2


def test_a_known_browser_gets_in_while_a_stranger_holds_the_account_and_the_address(
        held: FleetUnderTest) -> None:
    engine = held.app.state.engine
    add_user(engine, "ana@farm.example", {1: "viewer"})
    add_user(engine, "bo@farm.example", {1: "viewer"})
    ana, bo, stranger = _browser(held), _browser(held), _browser(held)
    signed_in(ana, "ana@farm.example")  # Ana's browser is now a known device of hers
    assert (ana.cookies.get("agrifleet_device") or "").startswith("agd_")
    ana.post("/api/v1/auth/logout", headers={"X-CSRF-Token": ana.cookies["agrifleet_csrf"]})
    # Behind the farm's one NAT address, a stranger guesses at Ana's account and at others.
    for n in range(8):
        email = "ana@farm.example" if n < 5 else f"user{n}@farm.example"
        assert login(stranger, email, GUESS).status_code == 401
    assert login(stranger, "ana@farm.example").status_code == 429  # the account is held
    assert login(bo, "bo@farm.example").status_code == 429  # so is the address, for new browsers
    assert login(ana, "ana@farm.example").status_code == 200  # but not Ana's own browser


def test_a_forged_or_borrowed_device_cookie_helps_nothing(held: FleetUnderTest) -> None:
    engine = held.app.state.engine
    add_user(engine, "ana@farm.example", {1: "viewer"})
    add_user(engine, "bo@farm.example", {1: "viewer"})
    bo = _browser(held)
    signed_in(bo, "bo@farm.example")
    for _ in range(5):
        assert login(bo, "ana@farm.example", GUESS).status_code == 401  # Bo's cookie is not Ana's
    assert login(bo, "ana@farm.example").status_code == 429
    forged = _browser(held)
    forged.cookies.set("agrifleet_device", "agd_" + "A" * 43)
    assert login(forged, "ana@farm.example").status_code == 429


def test_a_known_browsers_own_failures_hold_only_that_browser(held: FleetUnderTest) -> None:
    add_user(held.app.state.engine, "ana@farm.example", {1: "viewer"})
    phone, laptop = _browser(held), _browser(held)
    signed_in(phone, "ana@farm.example")
    signed_in(laptop, "ana@farm.example")
    for _ in range(5):
        assert login(phone, "ana@farm.example", GUESS).status_code == 401
    assert login(phone, "ana@farm.example").status_code == 429
    assert login(laptop, "ana@farm.example").status_code == 200
    _age_failures(held, 61)
    assert login(phone, "ana@farm.example").status_code == 200  # a wait, not a lock-out


def test_attempts_are_counted_and_logged_without_the_password(
        api: FleetUnderTest, caplog: pytest.LogCaptureFixture) -> None:
    add_user(api.app.state.engine, "ana@farm.example", {1: "viewer"})
    secret_guess = "hunter2-secret-guess"
    with caplog.at_level(logging.INFO):
        for _ in range(2):
            assert login(api.client, "ana@farm.example", secret_guess).status_code == 401
        assert login(api.client, "ana@farm.example").status_code == 200
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "sign-in failed" in logged
    assert secret_guess not in logged and PASSWORD not in logged
    with Session(api.app.state.engine) as session:
        details = [str(e.details) for e in session.exec(select(AuditEntry)).all()]
    assert not any(secret_guess in d or PASSWORD in d for d in details)
    metrics = api.client.get("/metrics", headers=api.viewer).text
    assert 'agrifleet_sign_ins_total{outcome="failed"} 2' in metrics
    assert 'agrifleet_sign_ins_total{outcome="ok"} 1' in metrics


def test_the_farm_admin_sees_failed_attempts_on_the_farms_people_only(
        held: FleetUnderTest) -> None:
    engine = held.app.state.engine
    bravo = add_farm(engine, "Bravo")
    add_user(engine, "boss@farm.example", {1: "admin"})
    add_user(engine, "ana@farm.example", {1: "viewer"})
    add_user(engine, "bo@bravo.example", {bravo: "viewer"})
    add_user(engine, "viv@farm.example", {1: "viewer"})
    stranger = _browser(held)
    for _ in range(5):
        login(stranger, "ana@farm.example", GUESS)
    login(stranger, "ana@farm.example", GUESS)  # held: 429
    login(stranger, "bo@bravo.example", GUESS)
    admin = _browser(held)
    signed_in(admin, "boss@farm.example")
    listed = admin.get("/api/v1/farms/1/sign-in-attempts")
    assert listed.status_code == 200, listed.text
    rows = listed.json()
    assert {r["email"] for r in rows} == {"ana@farm.example"}
    assert [r["outcome"] for r in rows] == ["throttled"] + ["failed"] * 5
    assert rows[1]["reason"] == "wrong password" and rows[1]["device"] == "new"
    assert rows[1]["address"] == "testclient"
    assert admin.get(f"/api/v1/farms/{bravo}/sign-in-attempts").status_code == 404
    viewer = _browser(held)
    signed_in(viewer, "viv@farm.example")
    assert viewer.get("/api/v1/farms/1/sign-in-attempts").status_code == 403
    # The listing takes a time window (since, until) like the audit log.
    recent = admin.get("/api/v1/farms/1/sign-in-attempts",
                       params={"since": "2100-01-01T00:00:00Z"})
    assert recent.status_code == 200 and recent.json() == []
