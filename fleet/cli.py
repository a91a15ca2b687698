"""``agrifleet fleet …``: serve the API with MQTT ingestion, create API tokens, migrate."""

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
    serve.set_defaults(func=_serve)

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

    farm = sub.add_parser(
        "create-farm",
        help="create a farm and print its id",
        description="Create a farm and print its id (for create-user --farm).",
    )
    farm.add_argument("name", help="the farm's name")
    farm.set_defaults(func=_create_farm)

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
    # proxy_headers off: the fleet itself decides whom to believe (AGRIFLEET_TRUSTED_PROXIES).
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_config=None,
                proxy_headers=False)
    return 0


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


def _create_farm(args: argparse.Namespace) -> int:
    from pydantic import ValidationError
    from sqlmodel import Session

    from fleet import audit
    from fleet.migrate import upgrade
    from fleet.people import Farm, FarmCreate

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
    from sqlmodel import Session, col, select

    from fleet import audit
    from fleet.auth.passwords import hash_password
    from fleet.migrate import upgrade
    from fleet.people import Farm, Membership, User, UserCreate

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
            if session.get(Farm, args.farm) is None:
                print(f"agrifleet fleet create-user: no farm {args.farm} (create one with "
                      "agrifleet fleet create-farm NAME)", file=sys.stderr)
                return 1
            if session.exec(select(User).where(col(User.email) == body.email)).first():
                print(f"agrifleet fleet create-user: a user with e-mail {body.email} exists",
                      file=sys.stderr)
                return 1
            user = User(email=body.email, password_hash=hash_password(body.password))
            session.add(user)
            session.flush()
            session.add(Membership(user_id=user.id or 0, farm_id=args.farm, role=args.role))
            audit.record(session, "cli", "user.create", body.email, None, farm_id=args.farm,
                         role=args.role)
            session.commit()
            print(user.id)
    return 0
