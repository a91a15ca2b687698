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
        "--duration", type=float, default=None,
        help="stop after this many seconds (default: at Ctrl-C)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from demo.local_fleet import LocalFleet, LocalFleetOptions

    if args.images is not None and not args.images.is_dir():
        print(f"agrifleet demo: --images {args.images} is not a folder")
        return 2
    with tempfile.TemporaryDirectory(prefix="agrifleet-demo-") as scratch:
        options = LocalFleetOptions(
            workdir=args.workdir or Path(scratch),
            host=args.host,
            port=args.port,
            agents=args.agents,
            broker=args.broker,
            images=args.images,
        )
        demo = LocalFleet(options)
        stopping = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopping.set())
        try:
            demo.start()
            print(demo.banner(), flush=True)
            stopping.wait(args.duration)
        except KeyboardInterrupt:
            pass
        finally:
            print("stopping…", flush=True)
            demo.stop()
    return 0
