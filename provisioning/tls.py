"""Certificates for MQTT over TLS: a private certificate authority and the broker's certificate.

A farm's broker is usually reached by IP address or a name no public CA will sign, so the
fleet makes its own CA. Its certificate (``ca.pem``, public) goes to every node
(``[mqtt] ca_file``) and to the fleet (``AGRIFLEET_MQTT_CA_FILE``). The broker's certificate,
signed by that CA for the broker's names and addresses, goes to Mosquitto with its key
(:class:`provisioning.mosquitto.MosquittoConfig` ``tls=``). A client then checks both the
signature and the name it connected to, so a stranger on the network cannot pose as the broker.
Keys are EC P-256 (small and fast on a Pi), written with mode 0600. They and the certificates
are made by the ``cryptography`` package (:mod:`provisioning.certificates`, imported only then),
so no command-line tool is needed.
"""

from __future__ import annotations

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
    from agrifleet.provisioning.certificates import load_authority, make_authority, sign_server

    if ca_key.is_file() and ca_file.is_file():
        authority = load_authority(ca_key, ca_file)
    else:
        authority = make_authority(ca_key, ca_file, CA_DAYS)
    sign_server(authority, hosts, key, cert, SERVER_DAYS)
    return TlsFiles(ca_file=ca_file, cert_file=cert, key_file=key)
