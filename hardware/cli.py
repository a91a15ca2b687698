"""``agrifleet sim sensors``: simulated probes on pseudo-terminals, paths printed one per line."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agrifleet.hardware.simulators.base import PtySimulator

FAULTS = ("noise", "bad-crc", "silence", "unplug")


def add_commands(parser: argparse.ArgumentParser) -> None:
    """Register ``sim`` subcommands."""
    sub = parser.add_subparsers(dest="sim_command", metavar="SIMULATOR", required=True)
    sensors = sub.add_parser(
        "sensors",
        help="serve Modbus soil and weather, SDI-12 and NMEA GPS simulators until Ctrl-C or "
             "SIGTERM",
        description=(
            "Start simulated sensors and print one line per device: KIND PATH LINK, where PATH "
            "is the pseudo-terminal (like /dev/ttyUSB0) and LINK a stable by-id style link. "
            "Ctrl-C (exit 130), SIGTERM or SIGHUP (exit 0) stops them; started in the "
            "background with SIGINT ignored, stop it with SIGTERM."
        ),
    )
    sensors.add_argument("--soil", type=int, default=1, metavar="N", help="Modbus soil probes")
    sensors.add_argument("--sdi12", type=int, default=1, metavar="N", help="SDI-12 probes")
    sensors.add_argument("--gps", type=int, default=1, metavar="N", help="NMEA GPS receivers")
    sensors.add_argument(
        "--air", type=int, default=0, metavar="N", help="XY-MD02 air temperature/humidity probes"
    )
    sensors.add_argument(
        "--rain", type=int, default=0, metavar="N", help="tipping-bucket rain gauges (Modbus)"
    )
    sensors.add_argument(
        "--day-seconds", type=float, default=86400.0, metavar="SECONDS",
        help="length of the simulated weather day, more than 0 (86400; shorter for demos)",
    )
    sensors.add_argument(
        "--soil-profile", default="soil-7in1", help="Modbus profile name or TOML path"
    )
    sensors.add_argument(
        "--sdi12-profile", default="acclima-tdr", help="SDI-12 profile name or TOML path"
    )
    sensors.add_argument(
        "--fault",
        action="append",
        choices=FAULTS,
        default=[],
        help="toggle this fault on and off every --fault-period seconds (repeatable)",
    )
    sensors.add_argument(
        "--fault-period", type=float, default=30.0, metavar="SECONDS",
        help="seconds between fault toggles, more than 0 (30)",
    )
    sensors.add_argument(
        "--link-dir", help="where to put the by-id style links (default: a temp dir)"
    )
    sensors.set_defaults(func=run_sensors)


def run_sensors(args: argparse.Namespace) -> int:
    """Start the simulators, print their paths, toggle faults until SIGINT, SIGTERM or SIGHUP."""
    import math
    import os
    import signal
    import sys

    from agrifleet.hardware.profiles import ProfileError
    from agrifleet.hardware.simulators.bench import SimulatorBench

    if min(args.soil, args.sdi12, args.gps, args.air, args.rain) < 0:
        print("agrifleet sim sensors: counts must be 0 or more", file=sys.stderr)
        return 2
    if not (math.isfinite(args.fault_period) and args.fault_period > 0):
        print(
            f"agrifleet sim sensors: --fault-period must be a number of seconds above 0, "
            f"not {args.fault_period:g}",
            file=sys.stderr,
        )
        return 2
    if not (math.isfinite(args.day_seconds) and args.day_seconds > 0):
        print(
            f"agrifleet sim sensors: --day-seconds must be a number above 0, "
            f"not {args.day_seconds:g}",
            file=sys.stderr,
        )
        return 2
    if args.link_dir and os.path.exists(args.link_dir) and not os.path.isdir(args.link_dir):
        print(f"agrifleet sim sensors: --link-dir {args.link_dir} is not a folder", file=sys.stderr)
        return 2
    try:
        bench = SimulatorBench(
            soil=args.soil,
            sdi12=args.sdi12,
            gps=args.gps,
            soil_profile=args.soil_profile,
            sdi12_profile=args.sdi12_profile,
            link_dir=args.link_dir,
            air=args.air,
            rain=args.rain,
            day_s=args.day_seconds,
        )
    except ProfileError as exc:
        print(f"agrifleet sim sensors: {exc}", file=sys.stderr)
        return 2
    # Stopping by signal ends the loop below, so the links and their folder are removed.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda *_: bench.stopped.set())
    try:
        bench.start()
        for sim in bench.simulators:
            _announce(sim)
        bench.run_faults([f.replace("-", "_") for f in args.fault], args.fault_period, _announce)
    except OSError as exc:  # e.g. --link-dir not writable, or no pseudo-terminals left
        print(f"agrifleet sim sensors: cannot serve: {exc}", file=sys.stderr)
        return 2
    finally:
        bench.stop()
    return 0


def _announce(sim: PtySimulator) -> None:
    print(f"{sim.kind} {sim.path} {sim.link}", flush=True)
