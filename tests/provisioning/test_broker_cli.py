"""`agrifleet provision broker` specifies: the files it writes start a real Mosquitto that serves
only TLS, lets in the fleet with the password from fleet.env (0600, never printed) and nobody
anonymous, and takes the fleet's commands to create device accounts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from agrifleet.mqtt import configure_client, parse_mqtt_url
from agrifleet.provisioning.dynsec import DynsecControl, find_plugin
from agrifleet.provisioning.mosquitto import find_mosquitto, free_port, wait_for_port
from agrifleet.provisioning.tls import make_broker_certificates
from tests.services import connack

AGRIFLEET = [sys.executable, "-m", "agrifleet"]

pytestmark = pytest.mark.skipif(find_plugin() is None or find_mosquitto() is None,
                                reason="Mosquitto 2 with its dynamic security plugin needed")


def provision(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*AGRIFLEET, "provision", "broker", *args], capture_output=True,
                          text=True, timeout=60)


def test_the_written_broker_serves_tls_to_the_fleet_and_no_stranger(tmp_path: Path) -> None:
    tls = make_broker_certificates(tmp_path / "tls", ["127.0.0.1"])
    port = free_port()
    out, data = tmp_path / "broker", tmp_path / "state"
    done = provision("--out", str(out), "--data-dir", str(data), "--tls-dir",
                     str(tmp_path / "tls"), "--port", str(port), "--bind", "127.0.0.1",
                     "--fleet-host", "127.0.0.1")
    assert done.returncode == 0, done.stderr
    env = dict(line.split("=", 1) for line in (out / "fleet.env").read_text().splitlines())
    url = env["AGRIFLEET_MQTT_URL"]
    password = parse_mqtt_url(url).password
    assert password and password not in done.stdout + done.stderr
    assert (out / "fleet.env").stat().st_mode & 0o777 == 0o600
    assert (data / "dynamic-security.json").stat().st_mode & 0o777 == 0o600
    assert env["AGRIFLEET_MQTT_CA_FILE"] == str(tls.ca_file)

    conf = (out / "mosquitto.conf").read_text()
    assert "allow_anonymous false" in conf and "mosquitto_dynamic_security.so" in conf
    if os.geteuid() == 0:  # Mosquitto started by root would switch to a user who cannot read
        (out / "mosquitto.conf").write_text(conf + "user root\n")  # the test's files
    broker = subprocess.Popen([str(find_mosquitto()), "-c", str(out / "mosquitto.conf")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        ca = Path(env["AGRIFLEET_MQTT_CA_FILE"])
        assert not connack(port, "fleet", password, tls=True, ca_file=ca).is_failure
        assert connack(port, tls=True, ca_file=ca).is_failure
        assert connack(port, "fleet", "wrong", tls=True, ca_file=ca).is_failure
        address = parse_mqtt_url(url, ca_file=ca)
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="provision-test")
        configure_client(client, address, ca)
        with DynsecControl(client, address.host, address.port) as control:
            control.create_device("agrifleet", "field-01", "password-of-field-01-000001")
        assert not connack(port, "field-01", "password-of-field-01-000001", tls=True,
                           ca_file=ca).is_failure
    finally:
        broker.terminate()
        broker.wait(10)
    # the plugin saved the new account in its file, as a hash
    saved = (data / "dynamic-security.json").read_text()
    assert "field-01" in saved and "password-of-field-01-000001" not in saved


def test_it_refuses_to_lose_the_accounts_or_serve_plain_mqtt_by_accident(tmp_path: Path) -> None:
    plain = provision("--out", str(tmp_path / "b"))
    assert plain.returncode == 2 and "--tls-dir" in plain.stderr
    first = provision("--out", str(tmp_path / "b"), "--no-tls")
    assert first.returncode == 0, first.stderr
    assert "plain MQTT" in first.stderr
    again = provision("--out", str(tmp_path / "b"), "--no-tls")
    assert again.returncode == 2 and "--force" in again.stderr
    half = provision("--out", str(tmp_path / "c"), "--cafile", str(tmp_path / "x.pem"))
    assert half.returncode == 2 and "--certfile" in half.stderr
