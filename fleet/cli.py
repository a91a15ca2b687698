"""``agrifleet fleet …``: serve the API with MQTT ingestion, create API tokens, migrate."""

from __future__ import annotations

import argparse
import sys


def add_commands(parser: argparse.ArgumentParser) -> None:
    """Register the fleet subcommands (heavy imports happen when one runs)."""
    parser.epilog = "Settings come from AGRIFLEET_* environment variables (see docs/fleet.md)."
    sub = parser.add_subparsers(dest="fleet_command", metavar="COMMAND", required=True)

    serve = sub.add_parser(
        "serve",
        help="run the REST API and the MQTT ingestion",
        description="Run the REST API and, when AGRIFLEET_MQTT_URL is set, MQTT ingestion.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="TCP port (8000)")
    serve.set_defaults(func=_serve)

    token = sub.add_parser(
        "create-token",
        help="print a new API token",
        description="Print a new API token; only its hash is stored, so keep the output.",
    )
    token.add_argument("--role", required=True, choices=("admin", "technician", "viewer"),
                       help="admin: everything; technician: publish models, run rollouts; "
                       "viewer: read only")
    token.add_argument("--name", default="", help="who or what the token is for")
    token.set_defaults(func=_create_token)

    migrate = sub.add_parser("migrate", help="apply database migrations")
    migrate.set_defaults(func=_migrate)


def _settings():  # type: ignore[no-untyped-def]
    from fleet.settings import SettingsError, load_settings

    try:
        return load_settings()
    except SettingsError as exc:
        print(f"agrifleet fleet: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from fleet.app import create_app

    if not 0 < args.port < 65536:
        print(f"agrifleet fleet serve: invalid port {args.port}", file=sys.stderr)
        return 2
    uvicorn.run(create_app(_settings()), host=args.host, port=args.port, log_config=None)
    return 0


def _create_token(args: argparse.Namespace) -> int:
    from fleet.auth import create_token
    from fleet.db import make_engine
    from fleet.migrate import upgrade

    engine = make_engine(_settings().database_url)
    upgrade(engine)
    print(create_token(engine, args.role, args.name))
    engine.dispose()
    return 0


def _migrate(_: argparse.Namespace) -> int:
    from fleet.db import make_engine
    from fleet.migrate import upgrade
    from fleet.settings import mask_url

    settings = _settings()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    engine.dispose()
    print(f"database schema is up to date: {mask_url(settings.database_url)}")
    return 0
