"""``agrifleet sim …``: the field simulators of :mod:`hardware.cli` (``sim sensors``) and
``sim fleet``, N light virtual nodes speaking the real outbox/ack protocol to a fleet's broker."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path


def add_commands(parser: argparse.ArgumentParser) -> None:
    """Register ``sim sensors`` (hardware) and ``sim fleet``."""
    from agrifleet.hardware.cli import add_commands as add_hardware

    add_hardware(parser)
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    fleet = sub.add_parser(
        "fleet",
        help="run N virtual nodes against a fleet's broker and report what was acknowledged",
        description="Run N light virtual nodes (a soil 7-in-1 probe each: 7 readings per poll, "
        "now and then a detection with a thumbnail, offline spells that leave backlogs) over "
        "MQTT with the real outbox/ack protocol; print a JSON summary of what was sent and "
        "acknowledged. The devices must be registered with the fleet (--register does it).",
        epilog="Without --credentials every node logs in with the account of --mqtt-url (one "
        "client id each): a benchmark shortcut; the broker's per-device ACLs then do not apply.",
    )
    fleet.add_argument("--devices", type=int, required=True, metavar="N", help="virtual nodes")
    fleet.add_argument(
        "--rate", type=float, default=None, metavar="BATCHES_PER_S",
        help="live batches per second offered over the fleet (default: N/10, a poll every 10 s "
        "per node); 0: each node polls again as soon as its acks come (the most the fleet takes)",
    )
    fleet.add_argument("--duration", type=float, default=60.0, metavar="S",
                       help="seconds of polling (60); then up to --drain s for the last acks")
    fleet.add_argument("--mqtt-url", default=os.environ.get("AGRIFLEET_MQTT_URL"),
                       help="mqtt(s)://user:password@host:port (default: AGRIFLEET_MQTT_URL)")
    fleet.add_argument("--ca-file", help="CA certificate of a broker with a private certificate")
    fleet.add_argument("--credentials", type=Path, metavar="FILE",
                       help="JSON object device id → MQTT password: each node logs in as itself")
    fleet.add_argument("--prefix", default="agrifleet", help="MQTT topic prefix (agrifleet)")
    fleet.add_argument("--id-prefix", default="sim-", help="device ids are <id-prefix>00000… ")
    fleet.add_argument("--first", type=int, default=0, help="number of the first device (0)")
    fleet.add_argument("--processes", type=int, default=2, help="simulator processes (2)")
    fleet.add_argument("--backlog", type=int, default=0, metavar="READINGS",
                       help="readings each node holds at the start, as after an offline spell")
    fleet.add_argument("--no-live", action="store_true",
                       help="do not poll: only drain the --backlog")
    fleet.add_argument("--batch-max", type=int, default=500, help="items per batch at most (500)")
    fleet.add_argument("--window", type=int, default=4,
                       help="batches a node keeps awaiting an ack (4)")
    fleet.add_argument("--ack-timeout", type=float, default=30.0, metavar="S",
                       help="a batch not acknowledged after this long goes again (30)")
    fleet.add_argument("--detection-every", type=int, default=100, metavar="POLLS",
                       help="one detection with a thumbnail every this many polls; 0: none (100)")
    fleet.add_argument("--offline-fraction", type=float, default=0.01,
                       help="share of the nodes out of coverage in each spell (0.01)")
    fleet.add_argument("--offline-for", type=float, default=20.0, metavar="S",
                       help="length of a spell (20)")
    fleet.add_argument("--drain", type=float, default=30.0, metavar="S",
                       help="after the run, wait this long at most for outstanding acks (30)")
    fleet.add_argument("--ack-on-puback", action="store_true",
                       help="count the broker's PUBACK as the ack: the bare broker's rate")
    fleet.add_argument("--register", metavar="FLEET_URL",
                       help="first register the devices with this fleet's API (an admin "
                       "token in AGRIFLEET_TOKEN)")
    fleet.add_argument("--json", type=Path, metavar="FILE", help="also write the summary here")
    fleet.set_defaults(func=run_fleet_command)


def _refuse(text: str) -> int:
    print(f"agrifleet sim fleet: {text}", file=sys.stderr)
    return 2


def run_fleet_command(args: argparse.Namespace) -> int:
    from agrifleet.demo.sim.register import RegisterError, register_devices
    from agrifleet.demo.sim.runner import SimOptions, run_fleet

    if args.devices < 1 or args.processes < 1 or args.batch_max < 1 or args.window < 1:
        return _refuse("--devices, --processes, --batch-max and --window must be 1 or more")
    numbers = (args.duration, args.ack_timeout, args.offline_for, args.drain)
    if not all(math.isfinite(v) and v >= 0 for v in numbers) or args.duration <= 0:
        return _refuse("--duration must be above 0; --ack-timeout, --offline-for and --drain "
                       "0 or more")
    if args.rate is not None and not (math.isfinite(args.rate) and args.rate >= 0):
        return _refuse(f"--rate must be 0 or more batches per second, not {args.rate}")
    if not 0 <= args.offline_fraction <= 1:
        return _refuse("--offline-fraction must be between 0 and 1")
    if not args.mqtt_url:
        return _refuse("no broker: pass --mqtt-url mqtt://user:password@host:port")
    credentials: dict[str, str] = {}
    if args.credentials:
        try:
            loaded = json.loads(args.credentials.read_text())
        except (OSError, ValueError) as exc:
            return _refuse(f"cannot read --credentials {args.credentials}: {exc}")
        if not isinstance(loaded, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in loaded.items()
        ):
            return _refuse("--credentials must hold a JSON object of device id → password")
        credentials = loaded
    options = SimOptions(
        mqtt_url=args.mqtt_url, devices=args.devices,
        rate=args.devices / 10 if args.rate is None else args.rate,
        duration=args.duration, prefix=args.prefix, processes=args.processes,
        id_prefix=args.id_prefix, first=args.first, backlog=max(0, args.backlog),
        live=not args.no_live, batch_max=args.batch_max, window=args.window,
        ack_timeout_s=args.ack_timeout, detection_every=max(0, args.detection_every),
        offline_fraction=args.offline_fraction, offline_for_s=args.offline_for,
        drain_s=args.drain, ack_on_puback=args.ack_on_puback, credentials=credentials,
        ca_file=args.ca_file,
    )  # fmt: skip
    if args.register:
        token = os.environ.get("AGRIFLEET_TOKEN", "")
        if not token:
            return _refuse("--register needs an admin token in AGRIFLEET_TOKEN")
        try:
            register_devices(args.register, token, options.device_ids())
        except RegisterError as exc:
            print(f"agrifleet sim fleet: {exc}", file=sys.stderr)
            return 1
    summary = run_fleet(options)
    text = json.dumps(summary, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 1 if summary["errors"] else 0
