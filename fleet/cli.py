"""``agrifleet fleet …``: serve the API with MQTT ingestion (or either alone), create API tokens,
migrate."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: sqlalchemy and pydantic load when a command runs
    from sqlalchemy import Engine

    from fleet.settings import FleetSettings


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
    serve.add_argument(
        "--api-only", action="store_true",
        help="serve the API (and run the rollout engine) without ingesting: ingest workers "
        "(agrifleet fleet ingest) store the devices' messages",
    )
    serve.set_defaults(func=_serve)

    ingest = sub.add_parser(
        "ingest",
        help="run one MQTT ingest worker (no API): N workers share the devices' traffic",
        description="Run MQTT ingestion alone, as one member of the shared subscription "
        "$share/<AGRIFLEET_MQTT_SHARE_GROUP>/...; /health and /metrics (a token needed) are "
        "served on --metrics-port. Run one per --worker id; see docs/deploy.md.",
    )
    ingest.add_argument(
        "--worker", default="1",
        help="this worker's id (systemd %%i): its MQTT client id is "
        "<AGRIFLEET_MQTT_CLIENT_ID>-ingest-<id>, so a restart resumes its session (1)",
    )
    ingest.add_argument("--metrics-host", default="127.0.0.1",
                        help="address of /health and /metrics (127.0.0.1)")
    ingest.add_argument("--metrics-port", type=int, default=None,
                        help="TCP port of /health and /metrics; 0 picks a free one (default "
                        "9100 + N for worker N: 9101, 9102, …; 9100 for a non-numeric id)")
    ingest.add_argument(
        "--retire", action="store_true",
        help="end this worker's MQTT session for good instead of running it (when scaling "
        "down: the broker stops queueing its share; the nodes resend what it held)",
    )
    ingest.set_defaults(func=_ingest)

    token = sub.add_parser(
        "create-token",
        help="print a new API token",
        description="Print a new API token; only its hash is stored, so keep the output.",
    )
    token.add_argument(
        "--role", required=True, choices=("admin", "technician", "viewer"),
        help="admin may change devices; technician may publish models and run rollouts; "
        "viewer may only read",
    )
    token.add_argument("--name", default="", help="who or what the token is for")
    token.set_defaults(func=_create_token)

    migrate = sub.add_parser(
        "migrate",
        help="apply database migrations",
        description="Create or upgrade the tables in AGRIFLEET_DATABASE_URL to this version.",
    )
    migrate.set_defaults(func=_migrate)


def _settings() -> FleetSettings:
    from fleet.settings import SettingsError, load_settings

    try:
        return load_settings()
    except SettingsError as exc:
        print(f"agrifleet fleet: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


@contextmanager
def _database(command: str, settings: FleetSettings) -> Iterator[Engine]:
    """An engine on the settings' database; any failure to reach it is one line and exit 1."""
    from sqlalchemy.exc import InterfaceError, OperationalError

    from fleet.db import make_engine
    from fleet.migrate import MigrationError
    from fleet.settings import mask_url

    def refuse(exc: BaseException) -> SystemExit:
        reason = _first_line(getattr(exc, "orig", None) or exc, settings.database_url)
        print(
            f"agrifleet fleet {command}: cannot use the database "
            f"{mask_url(settings.database_url)}: {reason} (check AGRIFLEET_DATABASE_URL)",
            file=sys.stderr,
        )
        return SystemExit(1)

    try:  # an SQLite file's folder is made here: it may be a file, or not writable
        engine = make_engine(settings.database_url)
    except OSError as exc:
        raise refuse(exc) from None
    try:
        yield engine
    except (OperationalError, InterfaceError) as exc:
        raise refuse(exc) from None
    except MigrationError as exc:  # e.g. a revision from a newer agrifleet
        print(
            f"agrifleet fleet {command}: the database {mask_url(settings.database_url)} has a "
            f"schema this version cannot migrate ({exc}); was it upgraded by a newer agrifleet?",
            file=sys.stderr,
        )
        raise SystemExit(1) from None
    finally:
        engine.dispose()


def _first_line(exc: BaseException, url: str) -> str:
    """The first line of an error, without the URL's password should a driver quote it."""
    from urllib.parse import unquote, urlsplit

    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    password = urlsplit(url).password
    for secret in {password, unquote(password or "")} - {None, ""}:
        text = text.replace(str(secret), "***")
    return text


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from fleet.app import create_app
    from fleet.migrate import upgrade

    if not 0 < args.port < 65536:
        print(f"agrifleet fleet serve: invalid port {args.port}", file=sys.stderr)
        return 2
    settings = _settings()
    with _database("serve", settings) as engine:  # fail in one line, not in the app's start-up
        if settings.auto_migrate:
            upgrade(engine)
        else:
            engine.connect().close()
    app = create_app(settings, ingest=not getattr(args, "api_only", False))
    uvicorn.run(app, host=args.host, port=args.port, log_config=None)
    return 0


def _ingest(args: argparse.Namespace) -> int:
    from fleet.workers import WORKER_ID, migrate_once, run_worker

    if not WORKER_ID.match(args.worker):
        print(f"agrifleet fleet ingest: invalid --worker {args.worker!r}: 1-32 letters, digits, "
              "_ or -", file=sys.stderr)  # fmt: skip
        return 2
    if args.metrics_port is None:
        number = int(args.worker) if args.worker.isdigit() else 0
        args.metrics_port = 9100 + number if number < 900 else 9100
    if not 0 <= args.metrics_port < 65536:
        print(f"agrifleet fleet ingest: invalid port {args.metrics_port}", file=sys.stderr)
        return 2
    settings = _settings()
    if settings.mqtt_url is None:
        print("agrifleet fleet ingest: AGRIFLEET_MQTT_URL is not set: a worker has nothing to "
              "ingest", file=sys.stderr)  # fmt: skip
        return 2
    if args.retire:
        from fleet.workers import retire, worker_client_id

        try:
            retire(settings, args.worker)
        except (OSError, TimeoutError) as exc:
            print(f"agrifleet fleet ingest --retire: {exc}", file=sys.stderr)
            return 1
        print(f"worker {args.worker}'s session {worker_client_id(settings, args.worker)} ended")
        return 0
    with _database("ingest", settings) as engine:
        if settings.auto_migrate:
            migrate_once(engine)
        else:
            engine.connect().close()
        try:
            return run_worker(settings, engine, args.worker, args.metrics_host,
                              args.metrics_port,
                              ready=lambda port: print(f"ingest worker {args.worker} ready; "
                                                       f"metrics on port {port}", flush=True))
        except OSError as exc:  # the metrics port is taken
            print(f"agrifleet fleet ingest: cannot listen on {args.metrics_host}:"
                  f"{args.metrics_port}: {exc.strerror or exc}", file=sys.stderr)  # fmt: skip
            return 1


def _create_token(args: argparse.Namespace) -> int:
    from fleet.auth import create_token
    from fleet.migrate import upgrade

    with _database("create-token", _settings()) as engine:
        upgrade(engine)
        print(create_token(engine, args.role, args.name))
    return 0


def _migrate(_: argparse.Namespace) -> int:
    from fleet.migrate import upgrade
    from fleet.settings import mask_url

    settings = _settings()
    with _database("migrate", settings) as engine:
        upgrade(engine)
    print(f"database schema is up to date: {mask_url(settings.database_url)}")
    return 0
