"""`agrifleet edge ...`: run the field agent, check its config file (argparse only at the top)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # annotations only; importing pydantic here would slow every command
    from agrifleet.edge.config import AgentConfig


def add_commands(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="edge_command", metavar="COMMAND", required=True)
    run = sub.add_parser(
        "run", help="run the agent until SIGTERM or Ctrl-C",
        description="Run the field agent: poll sensors and cameras, keep every item in the "
        "outbox and send it to the fleet over MQTT, until SIGTERM or Ctrl-C.",
    )
    run.add_argument("--config", type=Path, required=True, metavar="PATH", help="agent TOML file")
    run.add_argument("--reset-broken-outbox", action="store_true",
                     help="if the outbox file is damaged, keep it as <name>.broken-<time> and "
                     "start a fresh one with what can be read (as [outbox] on_corrupt = "
                     '"move-aside"); without it a damaged outbox stops the agent with exit 3')
    run.set_defaults(func=_run)
    check = sub.add_parser(
        "check-config", help="validate a config file and summarise it",
        description="Validate an agent TOML file (and that its password file can be read), "
        "then print its device, broker, outbox, sensors and cameras; exit 2 if it is wrong.",
    )
    check.add_argument("path", type=Path, metavar="PATH", help="agent TOML file")
    check.set_defaults(func=_check_config)
    enroll = sub.add_parser(
        "enroll", help="enrol this node with a one-time code from a technician",
        description="Make this node's own secrets, enrol it with the fleet using a one-time "
        "code, and write the agent config (0600), its secrets (0600), the broker's CA "
        "certificate and the model-signing keys next to --config.",
    )
    enroll.add_argument("--fleet", required=True, metavar="URL",
                        help="the fleet's address, https://fleet.example:8000")
    enroll.add_argument("--code", required=True, metavar="CODE",
                        help="the enrolment code (XXXX-XXXX-XXXX-XXXX-XXXX)")
    enroll.add_argument("--config", type=Path, default=Path("/etc/agrifleet/agent.toml"),
                        metavar="PATH", help="agent config to write (/etc/agrifleet/agent.toml)")
    enroll.add_argument("--data-dir", type=Path, default=Path("/var/lib/agrifleet"),
                        metavar="DIR", help="the agent's data_dir (/var/lib/agrifleet)")
    enroll.add_argument("--ca-file", type=Path, metavar="PEM",
                        help="CA certificate of an https fleet with a private CA")
    enroll.add_argument("--force", action="store_true",
                        help="replace an existing config and secrets (enrolling again)")
    enroll.set_defaults(func=_enroll)


def _load(path: Path) -> object | None:
    from agrifleet.edge.config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return None


def _check_config(args: argparse.Namespace) -> int:
    from agrifleet.edge.config import AgentConfig
    from agrifleet.edge.link import LinkSettings

    config = _load(args.path)
    if not isinstance(config, AgentConfig):
        return 2
    password = _password(config, args.path)
    if password is False:
        return 2
    settings = LinkSettings.from_url(
        config.mqtt.url, device_id=config.device_id, username=config.mqtt_username(),
        password=password, prefix=config.mqtt.prefix,
    )
    print(f"{args.path}: OK")
    print(f"  device {config.device_id}, broker {settings.safe_url()}, prefix {config.mqtt.prefix}")
    print(f"  outbox {config.outbox_path} (budget {config.outbox.max_bytes} bytes)")
    for s in config.sensors:
        print(f"  sensor {s.name}: {s.type} on {s.port} every {s.interval_s:g} s")
    for c in config.cameras:
        print(f"  camera {c.name}: {c.type}")
    return 0


def _password(config: AgentConfig, source: Path) -> str | Literal[False] | None:
    """The MQTT password, or False after printing why the password file cannot be read."""
    try:
        return config.mqtt_password()
    except OSError as exc:
        print(f"{source}: mqtt.password_file: cannot read it: {exc.strerror}", file=sys.stderr)
        return False


def _run(args: argparse.Namespace) -> int:
    import signal

    from agrifleet.edge.agent import Agent
    from agrifleet.edge.config import AgentConfig
    from agrifleet.edge.outbox import OutboxBroken

    config = _load(args.config)
    if not isinstance(config, AgentConfig):
        return 2
    if _password(config, args.config) is False:
        return 2
    try:
        config.outbox_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        print(f"{args.config}: cannot create {config.outbox_path.parent}: {exc.strerror}"
              " (set data_dir to a writable folder)", file=sys.stderr)
        return 2
    if args.reset_broken_outbox:
        config.outbox.on_corrupt = "move-aside"
    agent = Agent(config)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: agent.stop())
    try:
        agent.run()
    except OutboxBroken as exc:
        print(exc, file=sys.stderr)
        return exc.exit_code
    return 0


def _enroll(args: argparse.Namespace) -> int:
    from agrifleet.edge.enroll import EnrollError, enroll

    try:
        done = enroll(args.fleet, args.code, args.config, data_dir=args.data_dir,
                      force=args.force, ca_file=args.ca_file)
    except EnrollError as exc:
        print(f"agrifleet edge enroll: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"agrifleet edge enroll: cannot write {exc.filename}: {exc.strerror}",
              file=sys.stderr)
        return 2
    print(f"enrolled as {done.device_id}: {done.config}")
    print(f"check it with: agrifleet edge check-config {done.config}")
    return 0
