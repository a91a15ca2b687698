"""A blight-favourable week, end to end: a simulated XY-MD02 probe → a real agent process →
Mosquitto → the fleet process → one ``hutton`` alert for the potato field, with its reason →
a webhook receiver (which checks the HMAC-SHA256 signature) and a local SMTP server (aiosmtpd)
get it exactly once each, though the fleet is killed between the two deliveries → the alert is
acknowledged through the API.

What is simulated: the weather and the passing of time. The probe serves the ``blight`` weather
of hardware/simulators/signals.py (warm nights above 13 °C, RH above 90 % for about 11 hours a
night) and the agent's wall clock runs :data:`SCALE` times faster (``[clock.simulate]``, a
test-only setting of edge/clock.py): the demo's node is restarted with the probe and that
clock, anchored so that it reaches the real time :data:`RUN_S` seconds later; the probe follows
the same clock's hours of the day. So the agent reads and stamps nine days of weather in 40 s,
ending at today's real time, and the fleet (on the real clock) judges yesterday as Hutton would:
a Hutton period, and so each whole day of the week before it. The rest is real: serial Modbus
RTU on a pseudo-terminal, the outbox, MQTT, ingest, the alert evaluator and delivery worker,
their retries, and a SIGKILL of the fleet mid-delivery.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agrifleet.demo.local_fleet import LocalFleet
from agrifleet.edge.clock import fast_wall
from agrifleet.hardware.simulators import ModbusAirSimulator
from tests.e2e.conftest import api, wait_until
from tests.fleet.alerts.delivery.receivers import WebhookReceiver, smtp_server, webhook_receiver

pytestmark = pytest.mark.slow  # about 40 s of simulated weather, plus the fleet's start

#: Simulated seconds per real second: an hour in 0.18 s, a day in 4.3 s.
SCALE = 20_000.0
#: Real seconds from the node's restart until its clock catches up with the real one (9.3 days).
RUN_S = 40.0
SECRET = "a-shared-secret-of-the-farm-0123"


def call(fleet: LocalFleet, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(  # noqa: S310 - the test's own fleet
        f"{fleet.api_url}/api/v1{path}", method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {fleet.token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read() or b"null")


def fast_weather_station(fleet: LocalFleet, probe_link: str, start: datetime,
                         real_start: datetime) -> None:
    """The node restarted with the XY-MD02 probe added and its clock on the fast clock."""
    [device] = fleet.devices
    fleet.stop_agent(device)
    config = fleet.options.workdir / device / "agent.toml"
    config.write_text(config.read_text() + f"""
[clock.simulate]
start = {start.isoformat()}
real_start = {real_start.isoformat()}
scale = {SCALE}

[[sensors]]
type = "modbus"
name = "air"
profile = "xy-md02"
port = "{probe_link}"
interval_s = 0.05

[polling]  # a read lost to a busy CPU is retried within a simulated quarter hour
retry_min_s = 0.02
retry_max_s = 0.05
""")
    fleet.start_agent(device)


def test_a_blight_week_reaches_a_webhook_and_an_inbox_exactly_once_across_a_fleet_kill(
        make_fleet: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    with webhook_receiver() as receiver, smtp_server() as (smtp_port, inbox):
        inbox.refuse = True  # the mail server is down at first: the webhook goes out alone
        for name, value in {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_port),
                            "ALERT_TICK_S": "1", "DELIVERY_TICK_S": "0.5",
                            "DELIVERY_RETRY_MIN_S": "1", "DELIVERY_RETRY_MAX_S": "2",
                            "WEBHOOK_ALLOW_LOCAL": "true"}.items():  # the receiver is local
            monkeypatch.setenv(f"AGRIFLEET_{name}", value)
        fleet = make_fleet(agents=1)
        [field_id] = [f["id"] for f in call(fleet, "GET", "/farms/1/fields")]
        call(fleet, "PATCH", f"/farms/1/fields/{field_id}", {"crop": "potato"})
        call(fleet, "POST", "/webhooks", {"farm_id": 1, "url": receiver.url, "secret": SECRET})
        call(fleet, "POST", "/alert-rules", {"kind": "risk", "model": "hutton",
                                             "field_id": field_id})
        real_start = datetime.now(UTC)
        # The simulated clock reads the real time RUN_S s from now: RUN_S * SCALE s before.
        caught_up = real_start + timedelta(seconds=RUN_S)
        start = caught_up - timedelta(seconds=RUN_S * SCALE)
        clock = fast_wall(start, real_start, SCALE)
        with ModbusAirSimulator(weather="blight", clock=clock, seed=3) as probe:
            fast_weather_station(fleet, probe.link, start, real_start)
            check_deliveries(fleet, field_id, receiver, inbox)


def check_deliveries(fleet: LocalFleet, field_id: int, receiver: WebhookReceiver,
                     inbox: Any) -> None:
    """The webhook at once; the fleet killed while the mail server refuses; the e-mails after."""
    wait_until(lambda: receiver.received, RUN_S + 30, "the webhook delivery")
    [alert] = api(fleet, f"/alerts?field={field_id}")
    wait_until(lambda: inbox.refused >= 2, 15, "the refused e-mails")
    assert fleet.fleet is not None
    fleet.fleet.kill()  # a power cut between the webhook and the e-mails
    fleet.fleet.wait()
    inbox.refuse = False
    fleet.start_fleet(timeout=120)  # a loaded CI machine may take more than the default 30 s
    wait_until(lambda: len(inbox.messages) >= 2, 90, "the e-mails after the restart")
    time.sleep(3)  # several more ticks of the evaluator and the delivery worker

    assert len(receiver.received) == 1  # never sent again after the restart
    hook = receiver.received[0]
    expected = "sha256=" + hmac.new(SECRET.encode(), hook.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(hook.headers["X-Agrifleet-Signature"], expected)
    body = json.loads(hook.body)
    assert body["state"] == "active" and body["alert"]["id"] == alert["id"]
    assert "Late blight risk is high" in body["text"] and "a Hutton period" in body["text"]
    assert sorted(r for [r] in inbox.recipients) == [
        "technician@demo.example.org", "viewer@demo.example.org"]  # each member once
    assert all("Late blight risk is high" in m.get_content() for m in inbox.messages)

    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    assert alert["code"] == "disease_risk" and alert["field_id"] == field_id
    params = alert["params"]
    assert (params["model"], params["risk"], params["date"]) == ("hutton", "high", yesterday)
    reason = params["reason"]
    assert reason["rule"] == "hutton_period" and reason["previous_day_met"] is True
    assert reason["min_temperature"] >= 10 and reason["humid_hours"] >= 6
    assert reason["missing_hours"] == 0
    [only] = api(fleet, f"/alerts?field={field_id}")
    assert only["id"] == alert["id"]  # the restart opened no second alert

    acked = call(fleet, "POST", f"/alerts/{alert['id']}/acknowledge")
    assert acked["state"] == "acknowledged"
    deliveries = api(fleet, f"/alerts/{alert['id']}/deliveries")
    assert sorted((d["channel"], d["status"]) for d in deliveries) == [
        ("email", "sent"), ("email", "sent"), ("webhook", "sent")]
    for d in deliveries:  # the e-mails: refused before the kill, sent after it
        assert [a["ok"] for a in d["attempts"]][-1] is True
        assert d["channel"] == "webhook" or d["attempts"][0]["ok"] is False

    # the week behind it: each whole day a Hutton period (today is not over: unknown)
    since = (datetime.now(UTC) - timedelta(days=6)).date()
    week = api(fleet, f"/fields/{field_id}/risk?since={since}")["days"]
    hutton = [d["risk"] for d in sorted(week, key=lambda d: d["date"]) if d["model"] == "hutton"]
    assert hutton == ["high"] * 6 + ["unknown"]
