"""``agrifleet fleet enrolment-code | create-devices | revoke-device``: devices' credentials
(fleet/devices/enrolment.py) from the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from agrifleet.fleet.cli_database import _database, _settings

if TYPE_CHECKING:  # annotations only: pydantic loads when a command runs
    from agrifleet.fleet.settings import FleetSettings


def add_enrolment_code(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``enrolment-code``: a one-time enrolment code for a device."""
    code = sub.add_parser(
        "enrolment-code",
        help="print a one-time enrolment code for a device (re-enrols an enrolled one)",
        description="Print a one-time enrolment code for a registered device and write it as a "
        "QR code PNG; if the device was enrolled, its old secrets are revoked first.",
    )
    code.add_argument("device_id", metavar="ID", help="the device's id")
    code.add_argument("--qr", type=Path, metavar="PNG", help="write the QR code image here")
    code.set_defaults(func=_enrolment_code)


def _qr(path: Path, code: str, settings: FleetSettings) -> None:
    from agrifleet.fleet.devices.enrolment import enrol_command, qr_png

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(qr_png(enrol_command(code, settings.public_url)))


def _enrolment_code(args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from agrifleet.fleet.devices.broker_accounts import BrokerAccounts, BrokerUnavailable
    from agrifleet.fleet.devices.enrolment import issue_code
    from agrifleet.fleet.devices.tables import Device
    from agrifleet.fleet.migrate import upgrade

    settings = _settings()
    with _database("enrolment-code", settings) as engine:
        upgrade(engine)
        with Session(engine) as session:
            device = session.get(Device, args.device_id)
            if device is None:
                print(f"agrifleet fleet enrolment-code: unknown device {args.device_id!r}",
                      file=sys.stderr)
                return 1
            try:
                code, expires = issue_code(session, device, settings, BrokerAccounts(settings),
                                           "cli", None)
            except BrokerUnavailable as exc:
                print(f"agrifleet fleet enrolment-code: {exc}", file=sys.stderr)
                return 1
    print(f"{args.device_id} {code} {expires:%Y-%m-%dT%H:%M:%SZ}")
    if args.qr:
        _qr(args.qr, code, settings)
    return 0


def add_create_devices(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``create-devices``: register devices from a CSV file."""
    batch = sub.add_parser(
        "create-devices",
        help="register devices from a CSV file and print their enrolment codes",
        description="Register each device of a CSV file (columns id,name[,tags] with tags "
        "separated by ';'; a header row is optional) and print one line per device: id, code, "
        "expiry; with --qr-dir also a QR code PNG per device.",
    )
    batch.add_argument("csv", type=Path, metavar="CSV", help="devices.csv")
    batch.add_argument("--farm", metavar="FARM_ID", type=int,
                       help="the farm the devices belong to (default: the default farm, 1)")
    batch.add_argument("--qr-dir", type=Path, metavar="DIR", help="write <id>.png QR codes here")
    batch.set_defaults(func=_create_devices)


def _read_devices_csv(path: Path) -> list[tuple[str, str, list[str]]]:
    """(id, name, tags) per row; raises ValueError naming the row of a bad one."""
    import csv

    from pydantic import TypeAdapter, ValidationError

    from agrifleet.contract import DeviceId

    ids = TypeAdapter(DeviceId)
    rows: list[tuple[str, str, list[str]]] = []
    with path.open(newline="", encoding="utf-8") as f:
        for n, row in enumerate(csv.reader(f), start=1):
            if not row or not "".join(row).strip() or (n == 1 and row[0].strip() == "id"):
                continue
            device_id = row[0].strip()
            try:
                ids.validate_python(device_id)
            except ValidationError:
                raise ValueError(f"{path}:{n}: {device_id!r} is not a device id (letters, "
                                 "digits, '.', '_', '-'; at most 64)") from None
            name = row[1].strip() if len(row) > 1 else ""
            tags = [t.strip() for t in row[2].split(";") if t.strip()] if len(row) > 2 else []
            rows.append((device_id, name, tags))
    seen = [r[0] for r in rows]
    twice = sorted({d for d in seen if seen.count(d) > 1})
    if twice:
        raise ValueError(f"{path}: listed more than once: {', '.join(twice)}")
    return rows


def _create_devices(args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from agrifleet.fleet.devices.broker_accounts import BrokerAccounts
    from agrifleet.fleet.devices.enrolment import issue_code
    from agrifleet.fleet.devices.tables import DEFAULT_FARM_ID, Device
    from agrifleet.fleet.migrate import upgrade

    try:
        rows = _read_devices_csv(args.csv)
    except OSError as exc:
        print(f"agrifleet fleet create-devices: cannot read {args.csv}: {exc.strerror}",
              file=sys.stderr)
        return 2
    except (ValueError, UnicodeDecodeError) as exc:
        print(f"agrifleet fleet create-devices: {exc}", file=sys.stderr)
        return 2
    settings = _settings()
    with _database("create-devices", settings) as engine:
        upgrade(engine)
        with Session(engine) as session:
            from agrifleet.fleet.people.tables import Farm

            farm_id = DEFAULT_FARM_ID if args.farm is None else args.farm
            if session.get(Farm, farm_id) is None:
                print(f"agrifleet fleet create-devices: no farm {farm_id} (create one with "
                      "agrifleet fleet create-farm NAME)", file=sys.stderr)
                return 1
            taken = [d for d, _, _ in rows if session.get(Device, d) is not None]
            if taken:
                print(f"agrifleet fleet create-devices: already registered: {', '.join(taken)} "
                      "(nothing was created)", file=sys.stderr)
                return 1
            for device_id, name, tags in rows:
                session.add(Device(id=device_id, name=name, tags=sorted(set(tags)),
                                   farm_id=farm_id))
            session.commit()
            accounts = BrokerAccounts(settings)
            for device_id, _, _ in rows:
                created = session.get(Device, device_id)
                assert created is not None
                code, expires = issue_code(session, created, settings, accounts, "cli", None)
                print(f"{device_id} {code} {expires:%Y-%m-%dT%H:%M:%SZ}")
                if args.qr_dir:
                    _qr(args.qr_dir / f"{device_id}.png", code, settings)
    return 0


def add_revoke_device(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``revoke-device``: revoke a device's credentials and messages."""
    revoke = sub.add_parser(
        "revoke-device",
        help="revoke a device: close its broker session, refuse its credentials and messages",
        description="Revoke a device: its broker account is deleted (closing its session), its "
        "credentials stop working and the fleet refuses its messages from then on.",
    )
    revoke.add_argument("device_id", metavar="ID", help="the device's id")
    revoke.set_defaults(func=_revoke_device)


def _revoke_device(args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from agrifleet.fleet.devices.broker_accounts import BrokerAccounts, BrokerUnavailable
    from agrifleet.fleet.devices.enrolment import revoke
    from agrifleet.fleet.devices.tables import Device
    from agrifleet.fleet.migrate import upgrade

    settings = _settings()
    with _database("revoke-device", settings) as engine:
        upgrade(engine)
        with Session(engine) as session:
            device = session.get(Device, args.device_id)
            if device is None:
                print(f"agrifleet fleet revoke-device: unknown device {args.device_id!r}",
                      file=sys.stderr)
                return 1
            try:
                deleted = revoke(session, device, BrokerAccounts(settings), "cli", None)
            except BrokerUnavailable as exc:
                print(f"agrifleet fleet revoke-device: {args.device_id} is revoked in the fleet "
                      f"(its messages are refused), but its broker account is not deleted: "
                      f"{exc}; run the command again", file=sys.stderr)
                return 1
    where = "broker account deleted" if deleted else "no broker configured"
    print(f"{args.device_id} revoked ({where})")
    return 0
