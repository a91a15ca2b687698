"""``agrifleet provision``: what an operator sets up once for a farm's broker."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_commands(parser: argparse.ArgumentParser) -> None:
    """Register ``tls`` under ``agrifleet provision``."""
    sub = parser.add_subparsers(dest="provision_command", metavar="ACTION", required=True)
    t = sub.add_parser(
        "tls", help="make a private CA and a broker certificate for MQTT over TLS",
        description="Make a private certificate authority (kept if OUT already has one) and a "
        "broker certificate for the given names, and print the lines for Mosquitto, the nodes "
        "and the fleet.",
    )
    t.add_argument("--out", type=Path, required=True,
                   help="folder for ca.pem, ca.key, broker.pem, broker.key (an existing CA "
                   "there is kept)")
    t.add_argument("--host", action="append", required=True, metavar="NAME_OR_IP",
                   help="a name or IP address nodes use to reach the broker (repeat for each)")
    t.set_defaults(func=_tls)


def _tls(args: argparse.Namespace) -> int:
    from provisioning.tls import make_broker_certificates

    files = make_broker_certificates(args.out, args.host)
    print(f"broker certificate for {', '.join(args.host)}: {files.cert_file}\n"
          f"Mosquitto listener: cafile {files.ca_file}, certfile {files.cert_file}, "
          f"keyfile {files.key_file}, tls_version tlsv1.2\n"
          f"nodes: [mqtt] url = \"mqtts://...\", ca_file = <copy of {files.ca_file}>\n"
          f"fleet: AGRIFLEET_MQTT_URL=mqtts://..., AGRIFLEET_MQTT_CA_FILE={files.ca_file}\n"
          f"keep {files.ca_file.with_name('ca.key')} offline: it signs broker certificates")
    return 0
