"""Enrolled devices specify: one cannot forge or read another's data, and a revoked one is cut
off at once (its session closed within 2 s, its password refused, its messages refused)."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator

import pytest

from agrifleet.fleet.settings import FleetSettings
from agrifleet.provisioning.dynsec import DynsecBroker
from tests.fleet.conftest import FleetUnderTest, running_fleet
from tests.fleet.device import Device, batch, reading, wait_until
from tests.fleet.devices.test_enrolment import enrol, new_code, node_secrets, technician
from tests.services import Broker, connack


@pytest.fixture
def enrolling(
    migrated_database_url: str, dynsec_broker: DynsecBroker
) -> Iterator[FleetUnderTest]:
    settings = FleetSettings(
        database_url=migrated_database_url, mqtt_url=dynsec_broker.fleet_url,
        mqtt_client_id=f"fleet-{secrets.token_hex(4)}", enrolment_attempts_per_minute=1000,
    )
    with running_fleet(settings) as running:
        assert running.app.state.ingestor.wait_connected(10), "fleet did not connect"
        try:
            yield running
        finally:
            for device in running.devices:
                device.close()


def enrolled(fleet: FleetUnderTest, broker: DynsecBroker, device_id: str) -> Device:
    """A device enrolled through the API, connected with the password it made."""
    made = node_secrets()
    assert enrol(fleet, new_code(fleet, device_id), made).status_code == 200
    device = Device(f"mqtt://{device_id}:{made['mqtt_password']}@127.0.0.1:{broker.port}",
                    device_id)
    device.password = made["mqtt_password"]  # type: ignore[attr-defined]
    fleet.devices.append(device)
    return device


def test_a_device_cannot_forge_or_read_another_devices_data(
        enrolling: FleetUnderTest, dynsec_broker: DynsecBroker) -> None:
    a = enrolled(enrolling, dynsec_broker, "dev-a")
    b = enrolled(enrolling, dynsec_broker, "dev-b")
    foreign: list[str] = []
    a.client.on_message = lambda _c, _u, m: foreign.append(m.topic)
    for pattern in ("agrifleet/dev-b/ack", "agrifleet/+/ack", "agrifleet/#", "#"):
        a.client.subscribe(pattern, qos=1)
    # A publishes B's data on B's topic, and on its own topic in B's name
    a.client.publish("agrifleet/dev-b/messages", batch("dev-b", "boot-x", [reading(0)]),
                     qos=1).wait_for_publish(5)
    a.publish(batch("dev-b", "boot-x", [reading(1)]))
    assert b.send("boot-1", [reading(7)]).ranges == [(7, 7)]  # B's own data gets through
    wait_until(lambda: enrolling.metric(
        'agrifleet_messages_refused_total{reason="device_mismatch"}') == 1,
        what="A's batch in B's name to be refused")
    time.sleep(0.5)
    stored = enrolling.get("/api/v1/devices/dev-b/readings")
    assert [r["seq"] for r in stored] == [7]  # forged items stored: 0
    assert foreign == []  # foreign messages received: 0


def test_a_revoked_device_is_disconnected_within_2_s_and_kept_out(
        enrolling: FleetUnderTest, dynsec_broker: DynsecBroker) -> None:
    device = enrolled(enrolling, dynsec_broker, "field-01")
    assert device.send("boot-1", [reading(0)]).ranges == [(0, 0)]
    gone = threading.Event()
    device.client.on_disconnect = lambda *_: gone.set()
    started = time.monotonic()
    response = enrolling.client.post("/api/v1/devices/field-01/revoke",
                                     headers=technician(enrolling))
    assert response.status_code == 200, response.text
    assert gone.wait(2), "the revoked device's session stayed open"
    elapsed = time.monotonic() - started
    assert elapsed < 2
    body = response.json()
    assert body["id"] == "field-01" and body["broker_account_deleted"] is True
    assert connack(dynsec_broker.port, "field-01", device.password).is_failure  # type: ignore[attr-defined]
    # asking again is harmless (a broker that was away the first time gets the delete now)
    again = enrolling.client.post("/api/v1/devices/field-01/revoke", headers=technician(enrolling))
    assert again.status_code == 200
    assert again.json()["revoked_at"] == body["revoked_at"]


def test_viewers_cannot_revoke(enrolling: FleetUnderTest) -> None:
    enrolling.register("field-02")
    url = "/api/v1/devices/field-02/revoke"
    assert enrolling.client.post(url).status_code == 401
    assert enrolling.client.post(url, headers=enrolling.viewer).status_code == 403
    assert enrolling.client.post("/api/v1/devices/nobody/revoke",
                                 headers=enrolling.admin).status_code == 404


def test_ingest_refuses_a_revoked_devices_messages_and_releases_them(
        database_url: str, broker: Broker) -> None:
    """On a broker without the plugin (an old password-file install) the account cannot be
    deleted: the revocation says so, and the fleet still refuses what the device sends."""
    settings = FleetSettings(database_url=database_url, mqtt_url=broker.fleet_url,
                             mqtt_client_id=f"fleet-{secrets.token_hex(4)}", broker_timeout_s=1)
    with running_fleet(settings) as fleet:
        assert fleet.app.state.ingestor.wait_connected(10)
        fleet.broker = broker
        device = fleet.device("old-01")
        try:
            assert device.send("boot-1", [reading(0)]).ranges == [(0, 0)]
            response = fleet.client.post("/api/v1/devices/old-01/revoke", headers=fleet.admin)
            assert response.status_code == 502
            assert "messages are refused" in response.json()["detail"]
            refused = 'agrifleet_messages_refused_total{reason="revoked_device"}'
            for seq in (1, 2):
                # QoS 1 publish completes: the fleet released (PUBACKed) the refused message
                device.client.publish("agrifleet/old-01/messages",
                                      batch("old-01", "boot-1", [reading(seq)]),
                                      qos=1).wait_for_publish(5)
            wait_until(lambda: fleet.metric(refused) == 2, what="both refusals counted")
            assert device.acks.empty()
            assert [r["seq"] for r in fleet.get("/api/v1/devices/old-01/readings")] == [0]
        finally:
            device.close()


def test_re_enrolling_a_revoked_device_lets_it_in_again(
        enrolling: FleetUnderTest, dynsec_broker: DynsecBroker) -> None:
    first = enrolled(enrolling, dynsec_broker, "field-03")
    assert enrolling.client.post("/api/v1/devices/field-03/revoke",
                                 headers=technician(enrolling)).status_code == 200
    first.close()
    enrolling.devices.remove(first)
    made = node_secrets()
    code = new_code(enrolling, "field-03", register=False)
    assert enrol(enrolling, code, made).status_code == 200
    device = Device(f"mqtt://field-03:{made['mqtt_password']}@127.0.0.1:{dynsec_broker.port}",
                    "field-03")
    enrolling.devices.append(device)
    assert device.send("boot-2", [reading(0)]).ranges == [(0, 0)]

