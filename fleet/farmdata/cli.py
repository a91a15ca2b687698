"""``agrifleet fleet export`` and ``export-training-set``: a farm's data, or the training set
of consenting farms' photos with a verdict, written on the fleet's own machine (no API call)."""

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

    training = sub.add_parser(
        "export-training-set",
        help="write consenting farms' photos with a verdict into one folder per class",
        description="Write the photos of farms that consent to training, each with a person's "
        "verdict, into DIR/<class>/ (the model's class names; scouting photos whole, "
        "detections' thumbnails), deduplicated, with DIR/provenance.csv; `agrifleet model "
        "train --field DIR` reads it as it is. See docs/data.md.",
    )
    training.add_argument("--out", type=Path, required=True, metavar="DIR",
                          help="a new or empty folder")
    training.add_argument("--farm", type=int, metavar="ID",
                          help="only this farm (it must consent)")
    training.add_argument("--since", type=_moment, metavar="DATE",
                          help="only photos taken at or after this time (ISO 8601, UTC)")
    training.add_argument("--min-verdicts", type=int, default=1, metavar="N",
                          help="leave out classes with fewer than N photos (1)")
    training.set_defaults(func=_export_training_set)


def _export(args: argparse.Namespace) -> int:
    import os

    from sqlmodel import Session

    from agrifleet.fleet.cli_database import _database, _settings
    from agrifleet.fleet.farmdata.export import export_chunks, write_export
    from agrifleet.fleet.migrate import upgrade
    from agrifleet.fleet.people import audit
    from agrifleet.fleet.people.tables import Farm

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


def _export_training_set(args: argparse.Namespace) -> int:
    from agrifleet.fleet.cli_database import _database, _settings
    from agrifleet.fleet.farmdata.training_set import consenting_farms, write_training_set
    from agrifleet.fleet.migrate import upgrade

    if args.min_verdicts < 1:
        print("agrifleet fleet export-training-set: --min-verdicts is at least 1",
              file=sys.stderr)
        return 2
    settings = _settings()
    with _database("export-training-set", settings) as engine:
        upgrade(engine)
        if args.farm is not None and not consenting_farms(engine, args.farm):
            print(f"agrifleet fleet export-training-set: farm {args.farm} does not exist or "
                  "has not consented to training", file=sys.stderr)
            return 1
        try:
            done = write_training_set(engine, settings.data_dir, args.out, args.farm,
                                      args.since, args.min_verdicts)
        except OSError as exc:
            print(f"agrifleet fleet export-training-set: {exc}", file=sys.stderr)
            return 1
    print(f"wrote {done.photos} photos in {len(done.classes)} classes to {args.out} "
          f"({done.duplicates} duplicates and {done.left_out} without a class left out)")
    for label, count in sorted(done.dropped_classes.items()):
        print(f"left out {label}: {count} photos, fewer than --min-verdicts "
              f"{args.min_verdicts}")
    return 0
