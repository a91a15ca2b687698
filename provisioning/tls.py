"""Certificates for MQTT over TLS: a private certificate authority and the broker's certificate.

A farm's broker is usually reached by IP address or a name no public CA will sign, so the
fleet makes its own CA. Its certificate (``ca.pem``, public) goes to every node
(``[mqtt] ca_file``) and to the fleet (``AGRIFLEET_MQTT_CA_FILE``). The broker's certificate,
signed by that CA for the broker's names and addresses, goes to Mosquitto with its key
(:class:`provisioning.mosquitto.MosquittoConfig` ``tls=``). A client then checks both the
signature and the name it connected to, so a stranger on the network cannot pose as the broker.
Keys are EC P-256 (small and fast on a Pi), written with mode 0600. Made with the ``openssl``
command, so no Python cryptography package is needed.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

#: Days a broker certificate is valid (825 is the most that Apple and browsers accept).
SERVER_DAYS = 825
CA_DAYS = 3650


@dataclass(frozen=True)
class TlsFiles:
    """The files a TLS listener needs; ``ca_file`` is also what clients need."""

    ca_file: Path
    cert_file: Path
    key_file: Path


def _openssl(*args: str) -> None:
    tool = shutil.which("openssl")
    if tool is None:
        raise RuntimeError("openssl not found: install the openssl package")
    done = subprocess.run([tool, *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {done.stderr.strip()}")


def _private(path: Path) -> Path:
    """Create ``path`` empty with mode 0600 so the key openssl writes into it is never exposed."""
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600))
    path.chmod(0o600)
    return path


def _subject_alt_names(hosts: Sequence[str]) -> str:
    names = []
    for host in hosts:
        try:
            names.append(f"IP:{ipaddress.ip_address(host)}")
        except ValueError:
            names.append(f"DNS:{host}")
    return ",".join(names)


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
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    if not (ca_key.is_file() and ca_file.is_file()):
        _private(ca_key)
        _openssl("req", "-x509", *ec, "-keyout", str(ca_key), "-out", str(ca_file),
                 "-days", str(CA_DAYS), "-subj", "/O=agrifleet/CN=agrifleet private CA",
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    request = directory / "broker.csr"
    _private(key)
    _openssl("req", "-new", *ec, "-keyout", str(key), "-out", str(request),
             "-subj", f"/O=agrifleet/CN={hosts[0]}")
    extensions = directory / "broker.ext"
    extensions.write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyAgreement\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid,issuer\n"
        f"subjectAltName={_subject_alt_names(hosts)}\n",
        encoding="utf-8",
    )
    _openssl("x509", "-req", "-in", str(request), "-CA", str(ca_file), "-CAkey", str(ca_key),
             "-CAcreateserial", "-out", str(cert), "-days", str(SERVER_DAYS),
             "-extfile", str(extensions))
    request.unlink()
    extensions.unlink()
    return TlsFiles(ca_file=ca_file, cert_file=cert, key_file=key)
