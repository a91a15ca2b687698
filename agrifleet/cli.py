"""The `agrifleet` command: one subcommand per part of the system.

Each part owns its subcommands in its own ``cli`` module, which imports only argparse at the
top; heavy libraries are imported when a command runs, so a node without the fleet extra can
still run ``agrifleet edge`` and gets a one-line hint for ``agrifleet fleet``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence

from agrifleet import __version__
from agrifleet.extras import missing_extra_hint

#: (subcommand, module with ``add_commands(parser)``, one-line help) — the table of contents.
PARTS: list[tuple[str, str, str]] = [
    ("edge", "agrifleet.edge.cli", "run the field agent on a node"),
    ("fleet", "agrifleet.fleet.cli", "run the fleet service (ingestion, storage, REST API)"),
    ("rollout", "agrifleet.fleet.modelops.rollout_cli",
     "start and steer model rollouts on a running fleet"),
    ("sim", "agrifleet.demo.sim.cli",
     "simulated field sensors on pseudo-terminals, and virtual fleets"),
    ("model", "agrifleet.models.cli", "train, evaluate and try the crop-disease model"),
    ("provision", "agrifleet.provisioning.cli",
     "set up the broker: TLS certificates, config, accounts"),
    ("demo", "agrifleet.demo.cli", "run a whole fleet on this machine, no setup"),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agrifleet", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"agrifleet {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="part", metavar="COMMAND", required=True)
    for name, module, summary in PARTS:
        part = sub.add_parser(name, help=summary, description=summary)
        try:
            importlib.import_module(module).add_commands(part)
        except ModuleNotFoundError as exc:  # a part whose extra is missing stays listed
            hint = missing_extra_hint(exc, name) or f"{name} is unavailable: {exc}"
            part.set_defaults(func=_explain(hint))
    return parser


def _explain(hint: str) -> Callable[[argparse.Namespace], int]:
    def run(_: argparse.Namespace) -> int:
        print(hint, file=sys.stderr)
        return 2

    return run


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        parser.parse_args([args.part, "--help"])
        return 2
    try:
        return int(func(args) or 0)
    except ModuleNotFoundError as exc:
        hint = missing_extra_hint(exc, args.part)
        if hint is None:
            raise
        print(hint, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
