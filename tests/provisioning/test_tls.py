"""MQTT over TLS with the fleet's private CA: clients that trust it get in, nobody else does,
and nothing travels in the clear."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from agrifleet.provisioning.tls import CA_DAYS, SERVER_DAYS, TlsFiles, make_broker_certificates
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


def _verify(certificates: TlsFiles, host: x509.DNSName | x509.IPAddress) -> x509.Certificate:
    """Check the broker's certificate as a TLS client would: chain to the CA, name, usage."""
    ca = x509.load_pem_x509_certificate(certificates.ca_file.read_bytes())
    leaf = x509.load_pem_x509_certificate(certificates.cert_file.read_bytes())
    verifier = PolicyBuilder().store(Store([ca])).build_server_verifier(host)
    verifier.verify(leaf, [])  # raises VerificationError on a bad chain, name or usage
    return leaf


def test_certificates_chain_to_the_ca_and_name_the_broker(certificates: TlsFiles) -> None:
    leaf = _verify(certificates, x509.DNSName("localhost"))
    _verify(certificates, x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    with pytest.raises(VerificationError):
        _verify(certificates, x509.DNSName("broker.example.org"))
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    usage = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]
    for key in (certificates.key_file, certificates.ca_file.with_name("ca.key")):
        assert key.stat().st_mode & 0o077 == 0, f"{key.name} is readable by others"


def test_keys_are_p256_and_certificates_last_825_and_3650_days(certificates: TlsFiles) -> None:
    for path, days in ((certificates.cert_file, SERVER_DAYS), (certificates.ca_file, CA_DAYS)):
        certificate = x509.load_pem_x509_certificate(path.read_bytes())
        key = certificate.public_key()
        assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
        lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
        assert lifetime == timedelta(days=days), path.name
    for path in (certificates.key_file, certificates.ca_file.with_name("ca.key")):
        assert path.read_text().startswith("-----BEGIN PRIVATE KEY-----")  # PKCS#8, no password


def test_a_ca_key_that_is_not_the_cas_is_refused_not_replaced(tmp_path: Path) -> None:
    first = make_broker_certificates(tmp_path, hosts=("broker-a",))
    ca = first.ca_file.read_bytes()
    make_broker_certificates(tmp_path / "other", hosts=("broker-b",))
    (tmp_path / "ca.key").write_bytes((tmp_path / "other" / "ca.key").read_bytes())
    with pytest.raises(ValueError, match="is not the EC key of"):
        make_broker_certificates(tmp_path, hosts=("broker-c",))
    (tmp_path / "ca.key").write_text("not a key")
    with pytest.raises(ValueError, match="cannot be read"):
        make_broker_certificates(tmp_path, hosts=("broker-c",))
    assert first.ca_file.read_bytes() == ca


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


def test_the_provision_command_refuses_an_unreadable_ca_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from agrifleet.cli import main

    (tmp_path / "ca.key").write_text("not a key")
    (tmp_path / "ca.pem").write_text("not a certificate")
    assert main(["provision", "tls", "--out", str(tmp_path), "--host", "broker.farm.lan"]) == 2
    said = capsys.readouterr().err
    assert said.startswith("agrifleet provision tls: the CA in") and said.count("\n") == 1
    assert not (tmp_path / "broker.pem").exists()


def test_a_broker_config_needs_no_cryptography_until_certificates_are_made() -> None:
    code = ("import sys; sys.modules['cryptography'] = None\n"
            "import agrifleet.provisioning.mosquitto, agrifleet.provisioning.dynsec\n"
            "import agrifleet.provisioning.tls\n"
            "print('ok')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.stdout.strip() == "ok", done.stderr
