"""``agrifleet fleet export`` and ``export-training-set``: a farm's data, or the training set
of consenting farms' confirmed photos, written by the fleet's own machine (no API call)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path


def _moment(text: str) -> datetime:
    """An ISO 8601 date or time (UTC when it names no zone)."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 date or time (e.g. 2026-06-01 or "
            "2026-06-01T12:00:00Z)") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    export = sub.add_parser(
        "export",
        help="write everything the fleet holds of one farm to a ZIP file",
        description="Write one farm's devices, fields, members, readings, rollups, detections "
        "with thumbnails, scouting photos, verdicts, alerts, rollouts and audit log to a ZIP "
        "(CSV, Parquet when pyarrow is installed, README.md, manifest.json); see docs/data.md.",
    )
    export.add_argument("--farm", type=int, required=True, metavar="ID", help="the farm's id")
    export.add_argument("--out", type=Path, required=True, metavar="FILE",
                        help="the ZIP file to write (replaced when it exists)")
    export.add_argument("--since", type=_moment, metavar="TIME",
                        help="only what happened at or after this time (ISO 8601, UTC)")
    export.add_argument("--until", type=_moment, metavar="TIME",
                        help="only what happened before this time (ISO 8601, UTC)")
    export.set_defaults(func=_export)


def _export(args: argparse.Namespace) -> int:
    import os

    from sqlmodel import Session

    from fleet import audit
    from fleet.cli import _database, _settings
    from fleet.farmdata.export import export_chunks, write_export
    from fleet.migrate import upgrade
    from fleet.people import Farm

    if args.since and args.until and args.since >= args.until:
        print("agrifleet fleet export: --until must be after --since", file=sys.stderr)
        return 2
    settings = _settings()
    with _database("export", settings) as engine:
        upgrade(engine)
        with Session(engine) as session:
            farm = session.get(Farm, args.farm)
            if farm is None:
                print(f"agrifleet fleet export: no farm {args.farm}", file=sys.stderr)
                return 1
            audit.record(session, "cli", "farm.export", f"farm {args.farm}", None,
                         since=args.since and args.since.isoformat(),
                         until=args.until and args.until.isoformat())
            session.commit()
        part = args.out.with_name(args.out.name + ".part")
        try:
            with open(part, "wb") as out:
                size = write_export(out, export_chunks(engine, args.farm, settings.data_dir,
                                                       args.since, args.until))
            os.replace(part, args.out)
        except OSError as exc:
            part.unlink(missing_ok=True)
            print(f"agrifleet fleet export: cannot write {args.out}: {exc.strerror or exc}",
                  file=sys.stderr)
            return 1
    print(f"wrote {args.out} ({size} bytes) with the data of farm {args.farm}")
    return 0
