"""MQTT URLs mean one thing to the node and the fleet, and their passwords never show."""

from __future__ import annotations

from pathlib import Path

import pytest

from agrifleet.mqtt import BrokerAddress, mask_url, parse_mqtt_url

SECRET = "s3cr3t-PA55"


def test_a_url_gives_host_port_tls_and_decoded_credentials() -> None:
    address = parse_mqtt_url("mqtts://field%2D01:p%40ss%2Fword@broker.farm:8884")
    assert address == BrokerAddress(host="broker.farm", port=8884, tls=True,
                                    username="field-01", password="p@ss/word")


@pytest.mark.parametrize(
    ("url", "ca_file", "port", "tls"),
    [
        ("mqtt://broker", None, 1883, False),
        ("mqtts://broker", None, 8883, True),
        ("mqtt://broker", Path("/etc/agrifleet/ca.pem"), 8883, True),  # a CA file implies TLS
        ("mqtt://broker:1999/", None, 1999, False),
    ],
)
def test_default_ports_follow_tls(url: str, ca_file: Path | None, port: int, tls: bool) -> None:
    address = parse_mqtt_url(url, ca_file=ca_file)
    assert (address.port, address.tls) == (port, tls)
    assert address.username is None and address.password is None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (f"http://fleet:{SECRET}@broker", "must start with mqtt:// or mqtts://"),
        (f"mqtt://fleet:{SECRET}@", "no host name"),
        (f"mqtt://fleet:{SECRET}@broker:notaport", "port is not a number"),
        (f"mqtt://fleet:{SECRET}@broker:70000", "port is not a number"),
        (f"mqtt://fleet:{SECRET}@broker:0", "port 0"),
        (f"mqtt://fleet:{SECRET}@broker/topic", "only user, password, host and port"),
        ("mqtt://fleet:s3cr3t/PA55@broker", "port is not a number"),  # unescaped '/'
        ("mqtt://fleet:s3cr3t#PA55@broker", "port is not a number"),  # unescaped '#'
    ],
)
def test_a_bad_url_is_refused_without_its_password(url: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as caught:
        parse_mqtt_url(url)
    text = str(caught.value)
    assert "fleet:***@" in text
    assert "s3cr3t" not in text and "PA55" not in text


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (f"mqtt://fleet:{SECRET}@b:1883", "mqtt://fleet:***@b:1883"),
        (f"postgresql://u:{SECRET}@db:5432/fleet?sslmode=require",
         "postgresql://u:***@db:5432/fleet?sslmode=require"),
        ("mqtt://u:s3cr3t/PA55@b", "mqtt://u:***@b"),
        ("mqtt://u:s3cr3t#PA55@b", "mqtt://u:***@b"),
        ("u:s3cr3t-PA55@b", "u:***@b"),  # no scheme at all
        ("mqtt://b:1883", "mqtt://b:1883"),
        ("mqtt://user@b", "mqtt://user@b"),
        ("sqlite:////var/lib/a@b/fleet.db", "sqlite:////var/lib/a@b/fleet.db"),
    ],
)
def test_mask_url_hides_every_password(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_an_address_prints_without_its_password() -> None:
    address = parse_mqtt_url(f"mqtt://field-01:{SECRET}@broker")
    assert SECRET not in repr(address) and SECRET not in str(address)
    assert address.safe_url() == "mqtt://field-01:***@broker:1883"
    assert parse_mqtt_url("mqtts://[::1]").safe_url() == "mqtts://[::1]:8883"
