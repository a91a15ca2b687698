"""MQTT over TLS with the fleet's private CA: clients that trust it get in, nobody else does,
and nothing travels in the clear."""

from __future__ import annotations

import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from provisioning.tls import TlsFiles, make_broker_certificates
from tests.services import Broker, connack, running_mosquitto

#: An MQTT 3.1.1 CONNECT packet (client id "x", clean session) as a plain client would send it.
PLAIN_CONNECT = b"\x10\x0d\x00\x04MQTT\x04\x02\x00\x3c\x00\x01x"


@pytest.fixture
def certificates(tmp_path: Path) -> TlsFiles:
    return make_broker_certificates(tmp_path / "tls", hosts=("localhost", "127.0.0.1"))


@pytest.fixture
def tls_broker(tmp_path: Path, certificates: TlsFiles) -> Iterator[Broker]:
    with running_mosquitto(tmp_path / "mosquitto", tls=certificates) as broker:
        yield broker


def test_certificates_chain_to_the_ca_and_name_the_broker(certificates: TlsFiles) -> None:
    verify = subprocess.run(["openssl", "verify", "-CAfile", str(certificates.ca_file),
                             str(certificates.cert_file)], capture_output=True, text=True)
    assert verify.returncode == 0, verify.stderr
    text = subprocess.run(["openssl", "x509", "-in", str(certificates.cert_file), "-noout",
                           "-text"], capture_output=True, text=True, check=True).stdout
    assert "DNS:localhost" in text and "IP Address:127.0.0.1" in text
    assert "TLS Web Server Authentication" in text
    for key in (certificates.key_file, certificates.ca_file.with_name("ca.key")):
        assert key.stat().st_mode & 0o077 == 0, f"{key.name} is readable by others"


def test_a_second_broker_certificate_keeps_the_ca(tmp_path: Path) -> None:
    first = make_broker_certificates(tmp_path, hosts=("broker-a",))
    ca = first.ca_file.read_bytes()
    second = make_broker_certificates(tmp_path, hosts=("broker-b", "10.0.0.5"))
    assert second.ca_file.read_bytes() == ca  # nodes that trust the CA trust the new broker


def test_no_hosts_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one host"):
        make_broker_certificates(tmp_path, hosts=())


def test_a_device_trusting_the_ca_connects(tls_broker: Broker, certificates: TlsFiles) -> None:
    password = tls_broker.add_user("field-01")
    assert tls_broker.url_for("field-01").startswith("mqtts://")
    rc = connack(tls_broker.port, "field-01", password, tls=True, ca_file=certificates.ca_file)
    assert not rc.is_failure


def test_tls_does_not_replace_passwords(tls_broker: Broker, certificates: TlsFiles) -> None:
    tls_broker.add_user("field-01")
    rc = connack(tls_broker.port, "field-01", "not-the-password", tls=True,
                 ca_file=certificates.ca_file)
    assert rc.is_failure


def test_a_client_without_the_ca_refuses_the_broker(tls_broker: Broker) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        connack(tls_broker.port, tls=True)  # the system CAs do not know the fleet's private CA


def test_a_client_reaching_the_broker_by_another_name_refuses_it(
    tmp_path: Path,
) -> None:
    other = make_broker_certificates(tmp_path / "other", hosts=("broker.example.org",))
    with (running_mosquitto(tmp_path / "mosquitto-other", tls=other) as broker,
          pytest.raises(ssl.SSLCertVerificationError, match=r"match|mismatch")):
        connack(broker.port, tls=True, ca_file=other.ca_file)


def test_plain_mqtt_gets_no_answer_on_the_tls_port(tls_broker: Broker) -> None:
    with socket.create_connection(("127.0.0.1", tls_broker.port), timeout=5) as sock:
        sock.sendall(PLAIN_CONNECT)
        try:
            reply = sock.recv(64)
        except (ConnectionResetError, TimeoutError):
            reply = b""
    assert not reply.startswith(b"\x20"), "a plain CONNECT got a CONNACK"


def test_the_provision_command_makes_the_files_and_says_where_they_go(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from agrifleet.cli import main

    assert main(["provision", "tls", "--out", str(tmp_path), "--host", "broker.farm.lan",
                 "--host", "10.0.0.5"]) == 0
    said = capsys.readouterr().out
    assert "AGRIFLEET_MQTT_CA_FILE" in said and "ca_file" in said
    for name in ("ca.pem", "ca.key", "broker.pem", "broker.key"):
        assert (tmp_path / name).is_file()
