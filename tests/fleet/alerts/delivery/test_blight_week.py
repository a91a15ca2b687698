"""A blight-favourable week end to end inside the fleet: hourly air readings of a potato field's
node through the real writer → the evaluator opens one ``hutton`` alert with its reason → it
reaches a webhook receiver and a local SMTP server exactly once each, with the fleet restarted
in the middle (the first webhook attempt refused, retried after the restart) → acknowledged
through the API, which sends nothing more. (The agents' side: tests/hardware and tests/edge.)"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from agrifleet.fleet.alerts.delivery.worker import deliver_once
from agrifleet.fleet.alerts.evaluate import evaluate_once
from agrifleet.fleet.devices.tables import DEFAULT_FARM_ID
from agrifleet.fleet.people.auth import create_token
from tests.fleet.alerts.delivery.receivers import smtp_server, webhook_receiver
from tests.fleet.alerts.delivery.test_worker import _settings
from tests.fleet.conftest import running_fleet
from tests.fleet.people.auth.people import add_user
from tests.fleet.web.api.rows import store_items
from tests.fleet.web.api.test_risk import DAY0, _field, _node, _weather

MORNING = datetime(DAY0.year, DAY0.month, DAY0.day, 6, tzinfo=UTC) + timedelta(days=7)


def test_a_blight_week_reaches_the_webhook_and_the_inbox_exactly_once(
        database_url: str) -> None:
    with webhook_receiver() as receiver, smtp_server() as (port, inbox):
        receiver.statuses = [502]
        settings = _settings(database_url, port)
        with running_fleet(settings) as fleet:
            engine = fleet.app.state.engine
            tech = {"Authorization": f"Bearer {create_token(engine, 'technician')}"}
            add_user(engine, "manager@farm.example", {DEFAULT_FARM_ID: "viewer"})
            field_id = _field(fleet, "Potato")
            _node(fleet, "air-1", field_id)
            store_items(fleet.app, "air-1", _weather("air-1", range(7), 13.0, 9))
            assert fleet.client.post("/api/v1/webhooks", headers=tech, json={
                "farm_id": DEFAULT_FARM_ID, "url": receiver.url}).status_code == 201
            assert fleet.client.post("/api/v1/alert-rules", headers=tech, json={
                "kind": "risk", "model": "hutton", "field_id": field_id}).status_code == 201
            [alert_id] = evaluate_once(engine, MORNING).opened
            first = deliver_once(engine, settings, MORNING)
            assert (len(first.sent), len(first.retried)) == (1, 1)  # e-mail sent, hook refused
        with running_fleet(settings) as fleet:  # the fleet restarts
            engine = fleet.app.state.engine
            assert evaluate_once(engine, MORNING + timedelta(minutes=1)).opened == []
            later = deliver_once(engine, settings, MORNING + timedelta(minutes=1))
            assert len(later.sent) == 1 and later.queued == []
            [alert] = fleet.get("/api/v1/alerts", field=field_id)
            assert alert["id"] == alert_id and alert["code"] == "disease_risk"
            assert alert["params"]["reason"]["rule"] == "hutton_period"
            assert alert["params"]["reason"]["humid_hours"] == 9
            ack = fleet.client.post(f"/api/v1/alerts/{alert_id}/acknowledge",
                                    headers=fleet.viewer)
            assert ack.status_code == 200 and ack.json()["state"] == "acknowledged"
            assert deliver_once(engine, settings, MORNING + timedelta(hours=2)).sent == []
        accepted = receiver.received[1:]
        assert len(receiver.received) == 2 and len(accepted) == 1  # the refused one, then one
        body = json.loads(accepted[0].body)
        assert body["alert"]["params"]["model"] == "hutton"
        assert len(inbox.messages) == 1
        mail = inbox.messages[0]
        assert mail["To"] == "manager@farm.example"
        assert "Late blight risk is high" in mail.get_content()
        assert "What to do:" in mail.get_content()
        assert ("Why: This day and the day before were both warm and humid enough for late "
                "blight to infect: a Hutton period. Minimum 13.0 °C, 9 hours at 90 % humidity "
                "or more.") in " ".join(mail.get_content().split())
        assert "rule =" not in mail.get_content()  # the reason in words, not its codes
