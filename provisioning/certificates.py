"""The X.509 work behind :func:`provisioning.tls.make_broker_certificates`, with ``cryptography``.

Imported only when certificates are made, so reading a :class:`~provisioning.tls.TlsFiles` (a
broker's config, the tests' fixtures) needs no cryptography package. Keys are EC P-256, PKCS#8
PEM without a password (a service reads them unattended), written with mode 0600; certificates
are signed with ECDSA-SHA256.
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

from agrifleet.provisioning.private_files import write_private

CA_NAME = "agrifleet private CA"
ORGANISATION = "agrifleet"


@dataclass(frozen=True)
class Authority:
    """A certificate authority: its certificate and the key that signs with it."""

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


def make_authority(ca_key: Path, ca_file: Path, days: int) -> Authority:
    """A new self-signed CA for ``days``, written to ``ca_key`` (0600) and ``ca_file``."""
    key = _new_key(ca_key)
    name = _name(CA_NAME)
    certificate = (
        _builder(name, name, key, days)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_usage(signs=True), critical=True)
        .sign(key, hashes.SHA256()))
    ca_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return Authority(certificate, key)


def load_authority(ca_key: Path, ca_file: Path) -> Authority:
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
    return Authority(certificate, key)


def sign_server(authority: Authority, hosts: Sequence[str], key_file: Path, cert_file: Path,
                days: int) -> None:
    """A new key and a server certificate for ``hosts`` (the first is its common name)."""
    key = _new_key(key_file)
    ca_key = authority.key.public_key()
    certificate = (
        _builder(_name(hosts[0]), authority.certificate.subject, key, days)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(signs=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key),
                       critical=False)
        .add_extension(_subject_alt_names(hosts), critical=False)
        .sign(authority.key, hashes.SHA256()))
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
