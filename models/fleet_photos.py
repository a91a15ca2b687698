"""The fleet's own photos among the field photos a model is trained on.

``agrifleet fleet export-training-set`` writes consenting farms' confirmed photos into one
folder per class with ``provenance.csv`` beside them (one row per file: ``file`` is
``CLASS/NAME.jpg``, with the farm, field, device or person, and who gave the verdict).
``agrifleet model train --field DIR`` takes that folder as it is, alone or merged with public
field photos; every field photo listed in ``provenance.csv`` is the fleet's, every other one is
public. :func:`count_fleet_photos` counts the fleet's by split, farm and class when the model is
trained (``training.json``, then the manifest's ``training``), and :func:`card_lines` says it
on the model card.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from agrifleet.models.split import SPLITS, Photo

#: The file ``agrifleet fleet export-training-set`` writes (fleet/farmdata/training_set.py).
PROVENANCE = "provenance.csv"
#: The columns this module reads of it.
NEEDED = ("file", "class", "farm_id")


def read_provenance(field_dir: Path) -> dict[str, dict[str, str]]:
    """``CLASS/NAME`` → its provenance row; empty when the folder has no ``provenance.csv``.

    ValueError, naming the file and the line, when it is not the fleet's provenance file.
    """
    path = field_dir / PROVENANCE
    if not path.is_file():
        return {}
    rows: dict[str, dict[str, str]] = {}
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in NEEDED if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: no column {', '.join(missing)}; expected the "
                             "provenance.csv of agrifleet fleet export-training-set")
        for line, row in enumerate(reader, start=2):
            label, slash, name = (row["file"] or "").partition("/")
            if not slash or not name or label != row["class"] or not row["farm_id"]:
                raise ValueError(f"{path}, line {line}: file {row['file']!r} is not "
                                 f"CLASS/NAME of class {row['class']!r} with a farm_id")
            rows[row["file"]] = row
    return rows


def _splits(counter: Counter[str]) -> dict[str, int]:
    return {split: counter.get(split, 0) for split in SPLITS}


def count_fleet_photos(field_dir: Path | None, field: Iterable[Photo],
                       trained_on_field: bool = True) -> dict[str, Any] | None:
    """The fleet's photos among ``field`` (the field photos of a run, after any limit per
    class), by split, by farm and by class; None when ``field_dir`` lists none.

    ``trained_on_field`` False (``--exclude-field``): none was trained on, whatever its split.
    """
    listed = read_provenance(field_dir) if field_dir else {}
    if not listed:
        return None
    splits: Counter[str] = Counter()
    farms: dict[str, Counter[str]] = {}
    classes: dict[str, Counter[str]] = {}
    for photo in field:
        row = listed.get(photo.key)
        if row is None:
            continue
        splits[photo.split] += 1
        farms.setdefault(row["farm_id"], Counter())[photo.split] += 1
        classes.setdefault(photo.label, Counter())[photo.split] += 1
    return {
        "source": PROVENANCE,
        "listed": len(listed),
        "found": sum(splits.values()),
        "trained_on_field": trained_on_field,
        "trained_on": splits.get("train", 0) if trained_on_field else 0,
        "splits": _splits(splits),
        "per_farm": {farm: _splits(c) for farm, c in sorted(farms.items(),
                                                           key=lambda fc: int(fc[0]))},
        "per_class": {label: _splits(c) for label, c in sorted(classes.items())},
    }


def fleet_total(fleet: dict[str, Any] | None) -> int:
    """The fleet's photos in the run's field photos, whatever their split (0 without any)."""
    return int(fleet["found"]) if fleet else 0


def card_lines(fleet: dict[str, Any] | None) -> list[str]:
    """The model card's lines on the fleet's own photos (one line when there were none)."""
    if not fleet or not fleet["found"]:
        return ["- The fleet's own photos: none (no field photo listed in a `provenance.csv` "
                "of `agrifleet fleet export-training-set`)."]
    s = fleet["splits"]
    trained = fleet["trained_on"]
    how = ("" if fleet["trained_on_field"] else " (trained with `--exclude-field`: field "
           "photos were split and measured, never trained on)")
    lines = [f"- The fleet's own photos (consenting farms' photos with a person's verdict, "
             f"`agrifleet fleet export-training-set`, listed in `{fleet['source']}`): "
             f"{fleet['found']} of the field photos, **{trained} trained on**{how}; "
             f"{s['val']} validation (choosing the epoch and the thresholds) and {s['test']} "
             "test (measured, not trained on)."
             + (f" {fleet['listed'] - fleet['found']} photos listed in it were not in the "
                "folder or were left out by the limit per class."
                if fleet["listed"] > fleet["found"] else ""),
             "", "  | farm | trained on | validation | test |", "  | --- | --- | --- | --- |"]
    lines += [f"  | {farm} | {c['train'] if fleet['trained_on_field'] else 0} | {c['val']} | "
              f"{c['test']} |" for farm, c in fleet["per_farm"].items()]
    lines += ["", "  | class | trained on | validation | test |", "  | --- | --- | --- | --- |"]
    lines += [f"  | {label} | {c['train'] if fleet['trained_on_field'] else 0} | {c['val']} "
              f"| {c['test']} |" for label, c in fleet["per_class"].items()]
    return [*lines, ""]
