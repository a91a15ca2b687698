"""``agrifleet demo``: a whole fleet on this machine, no setup."""

from __future__ import annotations

import argparse
import signal
import tempfile
import threading
from pathlib import Path


def add_commands(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="fleet API address (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="fleet API port (8000)")
    parser.add_argument(
        "--mqtt-port", type=int, default=0,
        help="MQTT broker port on 127.0.0.1 (default: a free one)",
    )
    parser.add_argument("--agents", type=int, default=3, help="simulated field nodes (3)")
    parser.add_argument(
        "--broker", choices=["auto", "mosquitto", "embedded"], default="auto",
        help="MQTT broker: Mosquitto if installed (auto), or the embedded Python broker",
    )
    parser.add_argument(
        "--images", type=Path, default=None,
        help="folder of leaf photos fed to the nodes' cameras "
        "(default: ../shared/data/plantvillage when present)",
    )
    parser.add_argument("--workdir", type=Path, default=None, help="keep the demo's files here")
    parser.add_argument(
        "--backfill-days", type=float, default=120.0, metavar="DAYS",
        help="past soil readings each node starts with, so every chart range has a curve "
        "(120: a season; 0: none)",
    )
    parser.add_argument(
        "--duration", type=float, default=None,
        help="stop after this many seconds (default: at Ctrl-C)",
    )
    parser.set_defaults(func=run)


#: LocalFleetOptions field -> the option that sets it, for error messages.
OPTIONS = {"port": "--port", "mqtt_port": "--mqtt-port"}


def run(args: argparse.Namespace) -> int:
    import sys

    from agrifleet.demo.local_fleet import LocalFleet, LocalFleetOptions, PortInUse, StartError

    if args.images is not None and not args.images.is_dir():
        print(f"agrifleet demo: --images {args.images} is not a folder", file=sys.stderr)
        return 2
    if not 0 < args.port < 65536 or not 0 <= args.mqtt_port < 65536:
        print("agrifleet demo: ports are 1..65535", file=sys.stderr)
        return 2
    if not 0 <= args.backfill_days <= 366:
        print("agrifleet demo: --backfill-days is 0..366", file=sys.stderr)
        return 2
    if args.agents < 1:
        print("agrifleet demo: --agents must be 1 or more", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="agrifleet-demo-") as scratch:
        options = LocalFleetOptions(
            workdir=args.workdir or Path(scratch),
            host=args.host,
            port=args.port,
            mqtt_port=args.mqtt_port,
            agents=args.agents,
            broker=args.broker,
            images=args.images,
            practice=True,
            backfill_days=args.backfill_days,
            alert_rules=True,
        )
        demo = LocalFleet(options)
        stopping = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopping.set())
        try:
            demo.start()
        except StartError as exc:
            demo.stop()
            hint = f": choose another with {OPTIONS[exc.setting]} PORT" if isinstance(
                exc, PortInUse) else ""
            print(f"agrifleet demo: {exc}{hint}", file=sys.stderr)
            return 1
        except BaseException:
            demo.stop()
            raise
        try:
            print(demo.banner(), flush=True)
            stopping.wait(args.duration)
        except KeyboardInterrupt:
            pass
        finally:
            print("stopping…", flush=True)
            demo.stop()
    return 0
