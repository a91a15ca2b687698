"""The settings and the database a ``agrifleet fleet`` command works on, each failure one
clear line: shared by the fleet's command modules (``fleet/cli.py``, ``fleet/farmdata/cli.py``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from agrifleet.fleet.settings import FleetSettings


def _settings() -> FleetSettings:
    from agrifleet.fleet.settings import SettingsError, load_settings

    try:
        return load_settings()
    except SettingsError as exc:
        print(f"agrifleet fleet: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


@contextmanager
def _database(command: str, settings: FleetSettings) -> Iterator[Engine]:
    """An engine on the settings' database; any failure to reach it is one line and exit 1."""
    from sqlalchemy.exc import InterfaceError, OperationalError

    from agrifleet.fleet.db import make_engine
    from agrifleet.fleet.migrate import MigrationError
    from agrifleet.fleet.settings import mask_url

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
