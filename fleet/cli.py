"""``agrifleet fleet …``: serve the API with MQTT ingestion (or either alone), create API tokens,
farms and users, migrate; the devices' enrolment commands are in
:mod:`fleet.devices.enrolment_cli`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from agrifleet.fleet.cli_database import _database, _settings

if TYPE_CHECKING:  # annotations only: sqlalchemy loads when a command runs
    from sqlalchemy import Engine


def add_commands(parser: argparse.ArgumentParser) -> None:
    """Register the fleet subcommands (heavy imports happen when one runs); each command's
    arguments are declared beside its handler."""
    from agrifleet.fleet.devices import enrolment_cli  # argparse only at module level
    from agrifleet.fleet.farmdata import cli as farmdata_cli

    parser.epilog = "Settings come from AGRIFLEET_* environment variables (see docs/fleet.md)."
    sub = parser.add_subparsers(dest="fleet_command", metavar="COMMAND", required=True)
    for add in (add_serve, add_ingest, add_create_token, add_create_farm, add_create_user,
                add_migrate, add_pin_client_ids, enrolment_cli.add_enrolment_code,
                enrolment_cli.add_create_devices, enrolment_cli.add_revoke_device):
        add(sub)
    farmdata_cli.add_commands(sub)


def add_serve(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``serve``: the REST API with MQTT ingestion, or the API alone."""
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


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from agrifleet.fleet.app import create_app
    from agrifleet.fleet.migrate import upgrade

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
    # proxy_headers off: the fleet itself decides whom to believe (AGRIFLEET_TRUSTED_PROXIES).
    uvicorn.run(app, host=args.host, port=args.port, log_config=None, proxy_headers=False)
    return 0


def add_ingest(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``ingest``: one MQTT ingest worker, no API."""
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


def _ingest(args: argparse.Namespace) -> int:
    from agrifleet.fleet.telemetry.workers import WORKER_ID, migrate_once, run_worker

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
        from agrifleet.fleet.telemetry.workers import retire, worker_client_id

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


def add_create_token(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``create-token``: a new API token, stored hashed."""
    token = sub.add_parser(
        "create-token",
        help="print a new API token",
        description="Print a new API token; only its hash is stored, so keep the output. "
        "It is stored in the fleet's database (AGRIFLEET_DATABASE_URL, else fleet.db in "
        "AGRIFLEET_DATA_DIR), which it names on standard error; a database that does not "
        "exist yet is refused unless --create.",
    )
    token.add_argument(
        "--role", required=True, choices=("admin", "technician", "viewer"),
        help="admin may change devices; technician may publish models and run rollouts; "
        "viewer may only read",
    )
    token.add_argument("--name", default="", help="who or what the token is for")
    token.add_argument("--create", action="store_true",
                       help="create the database (and its tables) if there is none yet")
    token.set_defaults(func=_create_token)


def _create_token(args: argparse.Namespace) -> int:
    from agrifleet.fleet.migrate import upgrade
    from agrifleet.fleet.people.auth import create_token
    from agrifleet.fleet.settings import mask_url

    settings = _settings()
    where = mask_url(settings.database_url)
    if not args.create and _sqlite_file_missing(settings.database_url):
        return _no_database(where)
    with _database("create-token", settings) as engine:
        if not args.create and not _has_fleet_tables(engine):
            return _no_database(where)
        upgrade(engine)
        print(create_token(engine, args.role, args.name))
    print(f"agrifleet fleet create-token: a {args.role} token stored in {where}",
          file=sys.stderr)
    return 0


def _no_database(where: str) -> int:
    print(f"agrifleet fleet create-token: there is no fleet database at {where} yet: run it "
          "with the fleet's settings (AGRIFLEET_DATABASE_URL or AGRIFLEET_DATA_DIR; `agrifleet "
          "demo` prints its own tokens), or pass --create to start a new, empty one",
          file=sys.stderr)
    return 1


def _sqlite_file_missing(url: str) -> bool:
    """True for an SQLite URL whose file does not exist (opening it would create it)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return False
    return not Path(parsed.database).exists()


def _has_fleet_tables(engine: Engine) -> bool:
    """Whether the database was ever migrated (it has Alembic's version table)."""
    from sqlalchemy import inspect

    return inspect(engine).has_table("alembic_version")


def add_create_farm(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``create-farm``: a new farm."""
    farm = sub.add_parser(
        "create-farm",
        help="create a farm and print its id",
        description="Create a farm and print its id (for create-user --farm).",
    )
    farm.add_argument("name", help="the farm's name")
    farm.set_defaults(func=_create_farm)


def _create_farm(args: argparse.Namespace) -> int:
    from pydantic import ValidationError
    from sqlmodel import Session

    from agrifleet.fleet.migrate import upgrade
    from agrifleet.fleet.people import audit
    from agrifleet.fleet.people.tables import Farm, FarmCreate

    try:
        body = FarmCreate(name=args.name)
    except ValidationError as exc:
        print(f"agrifleet fleet create-farm: invalid name: {_why(exc)}", file=sys.stderr)
        return 2
    with _database("create-farm", _settings()) as engine:
        upgrade(engine)
        with Session(engine) as session:
            farm = Farm(name=body.name)
            session.add(farm)
            session.flush()
            audit.record(session, "cli", "farm.create", f"farm {farm.id}", None, name=body.name)
            session.commit()
            print(farm.id)
    return 0


def add_create_user(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``create-user``: a user with a role in a farm."""
    user = sub.add_parser(
        "create-user",
        help="create a user with a role in a farm (the password is read from standard input)",
        description="Create a user who signs in to the dashboard with EMAIL and a password "
        "read from standard input (prompted without echo on a terminal; never an argument). "
        "Prints the user's id.",
    )
    user.add_argument("email", help="the user's e-mail (case does not matter)")
    user.add_argument("--farm", required=True, type=int, metavar="FARM_ID",
                      help="the farm they belong to (from create-farm; the default farm is 1)")
    user.add_argument("--role", required=True, choices=("viewer", "technician", "admin"),
                      help="viewer reads and confirms; technician also manages devices, models "
                      "and rollouts; admin also users and farms")
    user.set_defaults(func=_create_user)


def _read_password() -> str | None:
    """The password: prompted twice without echo on a terminal, else stdin's first line."""
    import getpass

    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Password again: ") != first:
            print("agrifleet fleet create-user: the passwords differ", file=sys.stderr)
            return None
        return first
    line = sys.stdin.readline()
    return line[:-1] if line.endswith("\n") else line


def _why(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors())
    return str(exc)


def _create_user(args: argparse.Namespace) -> int:
    from pydantic import ValidationError
    from sqlmodel import Session

    from agrifleet.fleet.migrate import upgrade
    from agrifleet.fleet.people.accounts import AccountError, add_member
    from agrifleet.fleet.people.tables import UserCreate

    password = _read_password()
    if password is None:
        return 2
    try:
        body = UserCreate(email=args.email, password=password, farm_id=args.farm, role=args.role)
    except ValidationError as exc:
        print(f"agrifleet fleet create-user: {_why(exc)} (a password has 10 to 1024 "
              "characters)", file=sys.stderr)
        return 2
    with _database("create-user", _settings()) as engine:
        upgrade(engine)
        with Session(engine) as session:
            try:
                user = add_member(session, body)
            except AccountError as exc:
                print(f"agrifleet fleet create-user: {exc}", file=sys.stderr)
                return 1
            session.commit()
            print(user.id)
    return 0


def add_migrate(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``migrate``: create or upgrade the database's tables."""
    migrate = sub.add_parser(
        "migrate",
        help="apply database migrations",
        description="Create or upgrade the tables in AGRIFLEET_DATABASE_URL to this version.",
    )
    migrate.set_defaults(func=_migrate)


def _migrate(_: argparse.Namespace) -> int:
    from agrifleet.fleet.migrate import upgrade
    from agrifleet.fleet.settings import mask_url

    settings = _settings()
    with _database("migrate", settings) as engine:
        upgrade(engine)
    print(f"database schema is up to date: {mask_url(settings.database_url)}")
    return 0


def add_pin_client_ids(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``pin-client-ids``: pin old broker accounts to their client ids."""
    pin = sub.add_parser(
        "pin-client-ids",
        help="pin every device's broker account to its client id (once, after upgrading)",
        description="Accounts made before agrifleet pinned client ids let a device connect "
        "under any client id, the fleet's too; this pins each to agrifleet-<device id>.",
    )
    pin.set_defaults(func=_pin_client_ids)


def _pin_client_ids(_: argparse.Namespace) -> int:
    from agrifleet.fleet.devices.broker_accounts import BrokerAccounts, BrokerUnavailable

    try:
        changed = BrokerAccounts(_settings()).pin_client_ids()
    except BrokerUnavailable as exc:
        print(f"agrifleet fleet pin-client-ids: {exc}", file=sys.stderr)
        return 1
    print(f"pinned {len(changed)} device account(s) to their client ids"
          + (f": {', '.join(changed)}" if changed else ""))
    return 0
