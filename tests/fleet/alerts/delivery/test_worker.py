"""Alert delivery end to end over real sockets: a webhook receiver and a local SMTP server get
each alert state change exactly once (signed with HMAC-SHA256; e-mail in the person's language
with the advice), a refused delivery is retried with back-off and every attempt is visible in
the API, a pending delivery survives a fleet restart, quiet hours hold an e-mail back unless
the rule is critical, and a delivery that keeps failing ends as failed, kept."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from agrifleet.fleet.alerts.delivery.worker import Pass, deliver_once
from agrifleet.fleet.alerts.evaluate import evaluate_once
from agrifleet.fleet.devices.tables import DEFAULT_FARM_ID
from agrifleet.fleet.people.auth import create_token
from agrifleet.fleet.people.tables import User
from agrifleet.fleet.settings import FleetSettings
from tests.fleet.alerts.delivery.receivers import WebhookReceiver, smtp_server, webhook_receiver
from tests.fleet.conftest import FleetUnderTest, running_fleet
from tests.fleet.device import detection
from tests.fleet.people.auth.people import add_user, bearer, personal_token
from tests.fleet.web.api.rows import store_items
from tests.fleet.web.api.test_risk import _field, _node

NOW = datetime(2026, 6, 1, 13, 0, tzinfo=UTC)  # the detections are from 12:00 that day


class Farm:
    """A fleet with a webhook, a Vietnamese-speaking member and a disease_spread rule."""

    def __init__(self, fleet: FleetUnderTest, settings: FleetSettings,
                 receiver: WebhookReceiver) -> None:
        self.fleet, self.settings = fleet, settings
        engine = fleet.app.state.engine
        self.tech = {"Authorization": f"Bearer {create_token(engine, 'technician')}"}
        self.user_id = add_user(engine, "lan@farm.example", {DEFAULT_FARM_ID: "viewer"})
        with Session(engine) as session:
            user = session.get(User, self.user_id)
            assert user is not None
            user.language = "vi"
            session.add(user)
            session.commit()
        self.user = bearer(personal_token(engine, self.user_id)[1])
        made = fleet.client.post("/api/v1/webhooks", headers=self.tech, json={
            "farm_id": DEFAULT_FARM_ID, "url": receiver.url, "language": "zh"})
        assert made.status_code == 201, made.text
        self.secret = made.json()["secret"]

    def spread(self, critical: bool = False) -> int:
        fleet = self.fleet
        field_id = _field(fleet, "tomato")
        for node in ("leaf-1", "leaf-2"):
            _node(fleet, node, field_id)
            store_items(fleet.app, node, [detection(1)])
        rule = fleet.client.post("/api/v1/alert-rules", headers=self.tech, json={
            "kind": "disease_spread", "field_id": field_id, "critical": critical})
        assert rule.status_code == 201, rule.text
        [alert_id] = evaluate_once(fleet.app.state.engine, NOW).opened
        return alert_id

    def deliver(self, now: datetime) -> Pass:
        return deliver_once(self.fleet.app.state.engine, self.settings, now)

    def deliveries(self, alert_id: int) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = self.fleet.get(f"/api/v1/alerts/{alert_id}/deliveries")
        return got


def _settings(database_url: str, smtp_port: int, **more: Any) -> FleetSettings:
    return FleetSettings(database_url=database_url, alert_tick_s=3600, delivery_tick_s=3600,
                         smtp_host="127.0.0.1", smtp_port=smtp_port,
                         smtp_from="alerts@fleet.example",
                         webhook_allow_local=True,  # the receiver listens on 127.0.0.1
                         **more)


@contextmanager
def farm_fleet(database_url: str, smtp_port: int, receiver: WebhookReceiver,
               **more: Any) -> Iterator[Farm]:
    settings = _settings(database_url, smtp_port, **more)
    with running_fleet(settings) as fleet:
        yield Farm(fleet, settings, receiver)


def test_each_state_change_reaches_the_webhook_and_the_inbox_once(database_url: str) -> None:
    with webhook_receiver() as receiver, smtp_server() as (port, inbox), \
            farm_fleet(database_url, port, receiver) as farm:
        alert_id = farm.spread()
        first = farm.deliver(NOW)
        assert len(first.queued) == 2 and len(first.sent) == 2
        assert farm.deliver(NOW + timedelta(minutes=1)).sent == []  # at most once
        assert farm.deliver(NOW + timedelta(minutes=2)).queued == []

        [hook] = receiver.received
        expected = "sha256=" + hmac.new(farm.secret.encode(), hook.body,
                                        hashlib.sha256).hexdigest()
        assert hook.headers["X-Agrifleet-Signature"] == expected
        payload = json.loads(hook.body)
        assert payload["state"] == "active" and payload["alert"]["id"] == alert_id
        assert payload["alert"]["code"] == "disease_spreading"
        assert payload["subject"].startswith("agrifleet：病害扩散")  # the hook's language

        [mail] = inbox.messages
        assert inbox.recipients == [["lan@farm.example"]]
        assert mail["Subject"].startswith("agrifleet: Bệnh đang lây lan")
        text = mail.get_content()
        assert "Cảnh báo mới" in text and "Cần làm gì:" in text  # the advice, in Vietnamese

        cleared = farm.fleet.client.post(f"/api/v1/alerts/{alert_id}/clear", headers=farm.tech)
        assert cleared.status_code == 200
        after = farm.deliver(datetime.now(UTC))
        assert len(after.sent) == 2 and len(receiver.received) == 2 and len(inbox.messages) == 2
        assert json.loads(receiver.received[1].body)["state"] == "cleared"
        states = [(d["channel"], d["state"], d["status"]) for d in farm.deliveries(alert_id)]
        assert sorted(states) == [("email", "active", "sent"), ("email", "cleared", "sent"),
                                  ("webhook", "active", "sent"), ("webhook", "cleared", "sent")]


def test_a_refused_webhook_is_retried_with_back_off_across_a_restart(
        database_url: str) -> None:
    with webhook_receiver() as receiver, smtp_server() as (port, inbox):
        receiver.statuses = [500]
        with farm_fleet(database_url, port, receiver) as farm:
            alert_id = farm.spread()
            first = farm.deliver(NOW)
            assert len(first.retried) == 1 and len(first.sent) == 1  # the e-mail went
            [hook] = [d for d in farm.deliveries(alert_id) if d["channel"] == "webhook"]
            assert hook["status"] == "pending"
            assert [(a["ok"], a["detail"]) for a in hook["attempts"]] == [(False, "HTTP 500")]
            assert hook["next_attempt_at"].startswith("2026-06-01T13:00:30")
            assert farm.deliver(NOW + timedelta(seconds=10)).sent == []  # not due yet
        # the fleet restarts: the pending delivery is in the database, not in memory
        with farm_fleet_again(database_url, port) as (fleet, settings):
            again = deliver_once(fleet.app.state.engine, settings, NOW + timedelta(seconds=31))
            assert len(again.sent) == 1 and again.queued == []
            [hook] = [d for d in fleet.get(f"/api/v1/alerts/{alert_id}/deliveries")
                      if d["channel"] == "webhook"]
            assert hook["status"] == "sent" and [a["ok"] for a in hook["attempts"]] == [
                False, True]
        assert len(receiver.received) == 2 and len(inbox.messages) == 1


@contextmanager
def farm_fleet_again(database_url: str,
                     port: int) -> Iterator[tuple[FleetUnderTest, FleetSettings]]:
    settings = _settings(database_url, port)
    with running_fleet(settings) as fleet:
        yield fleet, settings


def test_quiet_hours_hold_an_email_back_unless_the_rule_is_critical(database_url: str) -> None:
    with webhook_receiver() as receiver, smtp_server() as (port, inbox), \
            farm_fleet(database_url, port, receiver) as farm:
        quiet = {"email": True, "quiet_start": "19:00", "quiet_end": "06:00",
                 "timezone": "Asia/Ho_Chi_Minh"}  # 13:00 UTC is 20:00 there
        response = farm.fleet.client.put("/api/v1/notifications", headers=farm.user, json=quiet)
        assert response.status_code == 200, response.text
        bad = farm.fleet.client.put("/api/v1/notifications", headers=farm.user,
                                    json={**quiet, "timezone": "Mars/Olympus"})
        assert bad.status_code == 422
        farm.spread()
        held = farm.deliver(NOW)
        assert len(held.sent) == 1 and len(held.deferred) == 1 and inbox.messages == []
        assert farm.deliver(NOW + timedelta(hours=9)).sent == []  # 05:00 there: still quiet
        assert len(farm.deliver(NOW + timedelta(hours=10)).sent) == 1  # 06:00: sent
        assert len(inbox.messages) == 1


def test_a_critical_rule_reaches_people_in_quiet_hours(database_url: str) -> None:
    with webhook_receiver() as receiver, smtp_server() as (port, inbox), \
            farm_fleet(database_url, port, receiver) as farm:
        response = farm.fleet.client.put("/api/v1/notifications", headers=farm.user, json={
            "quiet_start": "00:00", "quiet_end": "23:59"})
        assert response.status_code == 200
        farm.spread(critical=True)
        assert len(farm.deliver(NOW).sent) == 2 and len(inbox.messages) == 1


def test_a_delivery_that_keeps_failing_ends_as_failed_and_is_kept(
        database_url: str, tmp_path: Path) -> None:
    with webhook_receiver() as receiver, smtp_server() as (port, _inbox), \
            farm_fleet(database_url, port, receiver, delivery_max_attempts=2) as farm:
        receiver.statuses = [503, 503, 503]
        alert_id = farm.spread()
        farm.deliver(NOW)
        done = farm.deliver(NOW + timedelta(minutes=5))
        assert len(done.failed) == 1
        [hook] = [d for d in farm.deliveries(alert_id) if d["channel"] == "webhook"]
        assert hook["status"] == "failed" and len(hook["attempts"]) == 2
        assert farm.deliver(NOW + timedelta(hours=5)).sent == []


@pytest.mark.parametrize("body", [
    {"url": "ftp://example.org/hook"}, {"url": "http://x", "secret": "short"},
    {"url": "http://x", "colour": "red"}, {"url": "http://x", "language": "fr"},
])
def test_a_webhook_needs_an_http_url_and_a_long_secret(api: FleetUnderTest,
                                                       body: dict[str, Any]) -> None:
    response = api.client.post("/api/v1/webhooks", headers=api.admin,
                               json={"farm_id": DEFAULT_FARM_ID, **body})
    assert response.status_code == 422, response.text
    listed = api.get("/api/v1/webhooks")
    assert listed == []
