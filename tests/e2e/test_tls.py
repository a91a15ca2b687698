"""A node and the fleet talk over TLS through Mosquitto, trusting only the fleet's private CA.

The real agent (durable outbox, link) sends readings to a Mosquitto that serves only TLS; the
real fleet, also connected over TLS, stores them and acks; the farm manager reads them back.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from agrifleet.edge.agent import Agent
from agrifleet.edge.config import parse_config
from agrifleet.edge.items import Priority
from agrifleet.fleet.settings import FleetSettings
from agrifleet.provisioning.tls import make_broker_certificates
from tests.e2e.conftest import wait_until
from tests.edge.conftest import running
from tests.fleet.conftest import running_fleet
from tests.services import running_mosquitto


def _node(tmp_path: Path, url: str, ca_file: Path) -> Agent:
    """The agent of device field-01 dialling ``url`` and trusting only ``ca_file``."""
    config = parse_config({
        "device_id": "field-01",
        "data_dir": str(tmp_path / "node"),
        "mqtt": {"url": url, "ca_file": str(ca_file),
                 "reconnect_min_s": 0.05, "reconnect_max_s": 0.2},
        "clock": {"synced": "always"},
    }, "tls test config")
    return Agent(config, boot_id="boot-1")


def test_readings_reach_the_fleet_over_tls(tmp_path: Path) -> None:
    certificates = make_broker_certificates(tmp_path / "tls")
    with running_mosquitto(tmp_path / "mosquitto", tls=certificates) as broker:
        settings = FleetSettings(
            database_url=f"sqlite:///{tmp_path / 'fleet.db'}",
            mqtt_url=broker.fleet_url,
            mqtt_ca_file=certificates.ca_file,
            mqtt_client_id="fleet-tls",
        )
        assert settings.mqtt_url and settings.mqtt_url.startswith("mqtts://")
        with running_fleet(settings) as fleet:
            assert fleet.app.state.ingestor.wait_connected(10), "fleet did not connect over TLS"
            fleet.register("field-01")
            agent = _node(tmp_path, broker.add_device("field-01"), certificates.ca_file)
            with running(agent):
                outbox = agent.outbox
                assert outbox is not None
                outbox.emit_all([
                    ("reading", {"sensor": "soil", "quantity": "soil_moisture",
                                 "value": float(i), "unit": "%"}, Priority.READING)
                    for i in range(5)
                ])
                wait_until(lambda: outbox.stats().depth == 0, 30, "the fleet's acks")
            rows = fleet.get("/api/v1/devices/field-01/readings", order="asc")
    assert [r["value"] for r in rows] == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_the_fleet_does_not_connect_to_a_broker_it_cannot_verify(tmp_path: Path) -> None:
    certificates = make_broker_certificates(tmp_path / "tls")
    with running_mosquitto(tmp_path / "mosquitto", tls=certificates) as broker:
        settings = FleetSettings(  # no mqtt_ca_file: only the system's CAs are trusted
            database_url=f"sqlite:///{tmp_path / 'fleet.db'}", mqtt_url=broker.fleet_url
        )
        with running_fleet(settings) as fleet:
            assert not fleet.app.state.ingestor.wait_connected(3)


def test_a_node_that_does_not_trust_the_broker_says_so_and_keeps_its_readings(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    certificates = make_broker_certificates(tmp_path / "tls")
    stranger = make_broker_certificates(tmp_path / "stranger")  # another CA: an impostor's
    with running_mosquitto(tmp_path / "mosquitto", tls=stranger) as broker:
        agent = _node(tmp_path, broker.add_device("field-01"), certificates.ca_file)
        with caplog.at_level(logging.WARNING, logger="agrifleet.edge.link"), running(agent):
            outbox = agent.outbox
            assert outbox is not None
            outbox.emit("reading", {"sensor": "soil", "quantity": "soil_moisture",
                                    "value": 1.0, "unit": "%"}, Priority.READING)
            wait_until(lambda: "is not trusted" in caplog.text, 10, "the warning")
            assert outbox.stats().depth == 1
    assert "ca_file" in caplog.text and "self-signed certificate" in caplog.text
    assert broker.config.users["field-01"] not in caplog.text
