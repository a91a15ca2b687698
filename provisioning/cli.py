"""``agrifleet provision``: what an operator sets up once for a farm's broker."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_commands(parser: argparse.ArgumentParser) -> None:
    """Register ``tls`` and ``broker`` under ``agrifleet provision``."""
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
    b = sub.add_parser(
        "broker", help="write a Mosquitto config whose accounts follow the fleet",
        description="Write mosquitto.conf (TLS listener, no anonymous access, the dynamic "
        "security plugin, persistence) and the plugin's initial dynamic-security.json with "
        "the fleet's account; the fleet's new password goes to fleet.env (0600), never to the "
        "screen. Devices get their accounts when they enrol.",
    )
    b.add_argument("--out", type=Path, required=True,
                   help="folder for mosquitto.conf and fleet.env")
    b.add_argument("--data-dir", type=Path,
                   help="folder Mosquitto writes: dynamic-security.json and its persistence "
                   "(default: --out)")
    b.add_argument("--tls-dir", type=Path,
                   help="the --out folder of `agrifleet provision tls` (ca.pem, broker.pem, "
                   "broker.key)")
    b.add_argument("--cafile", type=Path,
                   help="your own CA certificate (with --certfile, --keyfile)")
    b.add_argument("--certfile", type=Path, help="your own broker certificate")
    b.add_argument("--keyfile", type=Path, help="your own broker key")
    b.add_argument("--no-tls", action="store_true",
                   help="plain MQTT (a test bench only: passwords cross the network readable)")
    b.add_argument("--port", type=int, help="listener port (8883 with TLS, 1883 without)")
    b.add_argument("--bind", default="0.0.0.0",  # noqa: S104 - nodes reach it over the network
                   help="address to listen on (0.0.0.0)")
    b.add_argument("--fleet-host", default="localhost",
                   help="the broker's name as the fleet reaches it, in fleet.env (localhost; "
                   "with TLS it must be a name on the certificate)")
    b.add_argument("--prefix", default="agrifleet", help="MQTT topic prefix (agrifleet)")
    b.add_argument("--force", action="store_true",
                   help="replace an existing dynamic-security.json: every device account in it "
                   "is lost and every node must enrol again")
    b.set_defaults(func=_broker)


def _tls(args: argparse.Namespace) -> int:
    import sys

    from agrifleet.provisioning.tls import make_broker_certificates

    try:
        files = make_broker_certificates(args.out, args.host)
    except ValueError as exc:
        print(f"agrifleet provision tls: {exc}", file=sys.stderr)
        return 2
    print(f"broker certificate for {', '.join(args.host)}: {files.cert_file}\n"
          f"Mosquitto listener: cafile {files.ca_file}, certfile {files.cert_file}, "
          f"keyfile {files.key_file}, tls_version tlsv1.2\n"
          f"nodes: [mqtt] url = \"mqtts://...\", ca_file = <copy of {files.ca_file}>\n"
          f"fleet: AGRIFLEET_MQTT_URL=mqtts://..., AGRIFLEET_MQTT_CA_FILE={files.ca_file}\n"
          f"keep {files.ca_file.with_name('ca.key')} offline: it signs broker certificates")
    return 0


def _broker(args: argparse.Namespace) -> int:
    import secrets
    import sys

    from agrifleet.provisioning.dynsec import DynsecConfig, find_plugin
    from agrifleet.provisioning.private_files import write_private
    from agrifleet.provisioning.tls import TlsFiles

    def fail(text: str) -> int:
        print(f"agrifleet provision broker: {text}", file=sys.stderr)
        return 2

    own = [args.cafile, args.certfile, args.keyfile]
    if any(own) and not all(own):
        return fail("give all of --cafile, --certfile and --keyfile, or --tls-dir")
    tls: TlsFiles | None = None
    if all(own):
        tls = TlsFiles(args.cafile, args.certfile, args.keyfile)
    elif args.tls_dir is not None:
        d = args.tls_dir
        tls = TlsFiles(d / "ca.pem", d / "broker.pem", d / "broker.key")
    elif not args.no_tls:
        return fail("give --tls-dir (from `agrifleet provision tls`) or your own --cafile/"
                    "--certfile/--keyfile; --no-tls only for a test bench")
    if tls is not None:
        missing = [str(p) for p in (tls.ca_file, tls.cert_file, tls.key_file) if not p.is_file()]
        if missing:
            return fail(f"no such file: {', '.join(missing)}")
        tls = TlsFiles(tls.ca_file.absolute(), tls.cert_file.absolute(), tls.key_file.absolute())
    plugin = find_plugin()
    if plugin is None:
        return fail("mosquitto_dynamic_security.so not found: install Mosquitto 2 "
                    "(apt-get install mosquitto)")
    port = args.port or (8883 if tls else 1883)
    password = secrets.token_urlsafe(24)
    out = args.out.absolute()
    config = DynsecConfig(directory=out, port=port, fleet_password=password,
                          prefix=args.prefix, bind=args.bind, tls=tls, plugin=plugin,
                          data_dir=args.data_dir.absolute() if args.data_dir else None)
    if config.dynsec_path.exists() and not args.force:
        return fail(f"{config.dynsec_path} exists and holds the broker's accounts; give "
                    "--force to start again with only the fleet's (every node enrols again)")
    config.write(keep_accounts=False)
    scheme = "mqtts" if tls else "mqtt"
    env = [f"AGRIFLEET_MQTT_URL={scheme}://fleet:{password}@{args.fleet_host}:{port}"]
    if tls:
        env.append(f"AGRIFLEET_MQTT_CA_FILE={tls.ca_file}")
    write_private(out / "fleet.env", "\n".join(env) + "\n")
    print(f"wrote {config.conf_path} and {config.dynsec_path} (the fleet's account)")
    print(f"the fleet's broker settings (its password included) are in {out / 'fleet.env'} "
          "(mode 0600): give it to the fleet's service as its EnvironmentFile")
    if not tls:
        print("warning: plain MQTT: use --tls-dir outside a test bench", file=sys.stderr)
    print(f"start it: mosquitto -c {config.conf_path}   (or provisioning/server/"
          "agrifleet-broker.service)")
    print(f"Mosquitto must be able to write {config.state_dir} (the plugin saves every account "
          "change in dynamic-security.json)")
    return 0
