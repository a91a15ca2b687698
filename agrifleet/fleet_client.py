"""A client of a running fleet over HTTP, for the command line: ``agrifleet model publish`` here,
``agrifleet rollout …`` in fleet/modelops/rollout_cli.py.

It calls through :mod:`agrifleet.http` (httpx, a core dependency), so a technician's laptop needs
no fleet extra; it lives in ``agrifleet`` so the model commands (a trainer's machine) and the
rollout commands share it without importing the fleet server. The fleet and token come from
``--fleet``/``--token`` or AGRIFLEET_FLEET_URL/AGRIFLEET_TOKEN.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

EPILOG = ("The fleet and token default to AGRIFLEET_FLEET_URL and AGRIFLEET_TOKEN (a technician "
          "or admin token from `agrifleet fleet create-token --role technician`).")


class FleetError(Exception):
    """The fleet refused or could not be reached; the message is the fleet's reason."""


def add_connection(parser: argparse.ArgumentParser) -> None:
    """``--fleet`` and ``--token`` on one command."""
    parser.add_argument("--fleet", metavar="URL", help="the fleet's address "
                        "(default: AGRIFLEET_FLEET_URL)")
    parser.add_argument("--token", help="API token (default: AGRIFLEET_TOKEN)")


def request(args: argparse.Namespace, method: str, path: str, body: bytes | None = None,
            content_type: str = "application/json") -> Any:
    """One HTTP call to the fleet; its JSON answer, or FleetError with the fleet's reason."""
    from agrifleet import http

    base = (args.fleet or os.environ.get("AGRIFLEET_FLEET_URL") or "").rstrip("/")
    token = args.token or os.environ.get("AGRIFLEET_TOKEN") or ""
    if not base.startswith(("http://", "https://")):
        raise FleetError("no fleet address: pass --fleet http://host:8000 or set "
                         "AGRIFLEET_FLEET_URL (agrifleet demo prints an export line that sets "
                         "it and AGRIFLEET_TOKEN)")
    if not token:
        raise FleetError("no API token: pass --token or set AGRIFLEET_TOKEN")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": content_type,
               "Accept": "application/json"}
    try:
        with http.client(timeout_s=300) as client:
            response = http.call(client, method, base + path, content=body, headers=headers)
    except http.HttpError as exc:
        if exc.status is None:
            raise FleetError(f"cannot reach the fleet at {base}: {exc.reason}") from None
        detail = exc.detail if exc.detail is not None else exc.phrase
        if isinstance(detail, list):  # validation errors (a refused package is one of them)
            detail = "; ".join(_error(d) for d in detail)
        raise FleetError(f"the fleet answered {exc.status}: {detail}") from None
    try:
        return json.loads(response.content or b"null")
    except ValueError:
        raise FleetError(f"{base} did not answer with JSON: is --fleet the fleet's "
                         "address?") from None


def _error(error: dict[str, Any]) -> str:
    where = ".".join(map(str, error.get("loc", [])[1:]))
    return f"{where}: {error.get('msg')}" if where else str(error.get("msg"))


def handled(func: Any) -> Any:
    """The command ``func``, printing a FleetError as one line and exiting 1."""
    def wrapped(args: argparse.Namespace) -> int:
        try:
            return int(func(args) or 0)
        except FleetError as exc:
            print(f"agrifleet: {exc}", file=sys.stderr)
            return 1

    return wrapped


# --- model publish ---------------------------------------------------------------------------


def add_publish(sub: Any) -> None:
    """Register ``publish`` under ``agrifleet model``."""
    p = sub.add_parser("publish", help="pack a signed package and publish it to the fleet",
                       description="Pack PACKAGE_DIR (signed with `agrifleet model sign`) and "
                       "upload it; the fleet checks it as a node would and says why it refuses.",
                       epilog=EPILOG)
    p.add_argument("package_dir", type=Path, metavar="PACKAGE_DIR",
                   help="a signed model package folder")
    add_connection(p)
    p.set_defaults(func=handled(_publish))


def _publish(args: argparse.Namespace) -> int:
    import tempfile

    from agrifleet.package import PackageError, pack

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "package.tar.gz"
        try:
            pack(args.package_dir, out)
        except PackageError as exc:
            raise FleetError(f"{exc.reason}: {exc}") from None
        result = request(args, "POST", "/api/v1/models", out.read_bytes(), "application/gzip")
    print(f"published {result['name']} {result['version']} ({result['size']} bytes, "
          f"sha256 {result['sha256'][:12]}…)")
    return 0
