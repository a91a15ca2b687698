"""Certificates for MQTT over TLS: a private certificate authority and the broker's certificate.

A farm's broker is usually reached by IP address or a name no public CA will sign, so the
fleet makes its own CA. Its certificate (``ca.pem``, public) goes to every node
(``[mqtt] ca_file``) and to the fleet (``AGRIFLEET_MQTT_CA_FILE``). The broker's certificate,
signed by that CA for the broker's names and addresses, goes to Mosquitto with its key
(:class:`provisioning.mosquitto.MosquittoConfig` ``tls=``). A client then checks both the
signature and the name it connected to, so a stranger on the network cannot pose as the broker.
Keys are EC P-256 (small and fast on a Pi), PKCS#8 PEM written with mode 0600; certificates
are signed with ECDSA-SHA256 by the ``cryptography`` package, so no command-line tool is needed.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from provisioning.private_files import write_private

#: Days a broker certificate is valid (825 is the most that Apple and browsers accept).
SERVER_DAYS = 825
CA_DAYS = 3650
CA_NAME = "agrifleet private CA"
ORGANISATION = "agrifleet"


@dataclass(frozen=True)
class TlsFiles:
    """The files a TLS listener needs; ``ca_file`` is also what clients need."""

    ca_file: Path
    cert_file: Path
    key_file: Path


@dataclass(frozen=True)
class _Authority:
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _new_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """A new P-256 key, saved unencrypted (a service reads it unattended) with mode 0600."""
    key = ec.generate_private_key(ec.SECP256R1())
    write_private(path, key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode("ascii"))
    return key


def _subject_alt_names(hosts: Sequence[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def _usage(*, signs: bool) -> x509.KeyUsage:
    """Key usage of a CA (signs certificates and CRLs) or a server (ECDHE-ECDSA handshakes)."""
    return x509.KeyUsage(
        digital_signature=not signs, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=not signs, key_cert_sign=signs, crl_sign=signs,
        encipher_only=False, decipher_only=False)


def _builder(subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey,
             days: int) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False))


def _make_authority(ca_key: Path, ca_file: Path) -> _Authority:
    key = _new_key(ca_key)
    name = _name(CA_NAME)
    certificate = (
        _builder(name, name, key, CA_DAYS)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_usage(signs=True), critical=True)
        .sign(key, hashes.SHA256()))
    ca_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return _Authority(certificate, key)


def _load_authority(ca_key: Path, ca_file: Path) -> _Authority:
    """The CA already in the folder; one that cannot sign is refused, never replaced."""
    try:
        key = serialization.load_pem_private_key(ca_key.read_bytes(), password=None)
        certificate = x509.load_pem_x509_certificate(ca_file.read_bytes())
    except (ValueError, TypeError) as exc:
        raise ValueError(f"the CA in {ca_key.parent} cannot be read ({exc}); move ca.key and "
                         "ca.pem away to make a new CA (every node then needs the new ca.pem)"
                         ) from exc
    if (not isinstance(key, ec.EllipticCurvePrivateKey)
            or key.public_key() != certificate.public_key()):
        raise ValueError(f"{ca_key} is not the EC key of {ca_file}; move both away to make a "
                         "new CA (every node then needs the new ca.pem)")
    return _Authority(certificate, key)


def _sign_server(authority: _Authority, hosts: Sequence[str], key_file: Path,
                 cert_file: Path) -> None:
    key = _new_key(key_file)
    ca_key = authority.key.public_key()
    certificate = (
        _builder(_name(hosts[0]), authority.certificate.subject, key, SERVER_DAYS)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(signs=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key),
                       critical=False)
        .add_extension(_subject_alt_names(hosts), critical=False)
        .sign(authority.key, hashes.SHA256()))
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


def make_broker_certificates(
    directory: Path, hosts: Sequence[str] = ("localhost", "127.0.0.1"),
) -> TlsFiles:
    """A new CA (kept in ``directory`` if one is there already) and a broker certificate.

    ``hosts`` are the names and IP addresses clients use to reach the broker; a client that
    connects by any other name refuses the certificate.
    """
    if not hosts:
        raise ValueError("name at least one host name or IP address of the broker")
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_file = directory / "ca.key", directory / "ca.pem"
    key, cert = directory / "broker.key", directory / "broker.pem"
    if ca_key.is_file() and ca_file.is_file():
        authority = _load_authority(ca_key, ca_file)
    else:
        authority = _make_authority(ca_key, ca_file)
    _sign_server(authority, hosts, key, cert)
    return TlsFiles(ca_file=ca_file, cert_file=cert, key_file=key)
