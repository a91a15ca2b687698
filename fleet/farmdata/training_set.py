"""The training set of the fleet's confirmed photos: the photos of farms that consent, with a
person's verdict, in one folder per class (the class names the model uses), ready for
``agrifleet model train --field DIR``.

The class of a photo is what the person said: the model's answer when they confirmed it, the
class they named when they rejected it (a rejection naming none is left out, as is a
confirmation of "uncertain"). The best photo available is taken: a scouting photo whole, a
detection's thumbnail (all a node sends). Identical photos (same SHA-256) are written once.
``provenance.csv`` says where each file came from: farm, field, device or person, when it was
taken, who gave the verdict and when.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from agrifleet.fleet.farmdata.contents import (
    DETECTION,
    DEVICE,
    OBSERVATION,
    OBSERVATION_VERDICT,
    VERDICT,
    table_of,
)
from agrifleet.fleet.farmdata.export import iso
from agrifleet.fleet.farmdata.tables import FarmDataPolicy
from agrifleet.fleet.modelops.observations import PhotoStore

POLICY = table_of(FarmDataPolicy)
PROVENANCE = "provenance.csv"
COLUMNS = ("file", "class", "sha256", "source", "source_id", "farm_id", "field_id",
           "device_id", "taken_by", "taken_at", "verdict", "verdict_by", "verdict_at",
           "model_name", "model_version")
#: What a class folder may be called: the model's labels are plain names.
_CLASS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_(),. -]{0,127}$")


@dataclass
class Candidate:
    """One photo with a verdict, before it is written."""

    label: str
    data: bytes
    row: dict[str, Any]


@dataclass
class Written:
    photos: int = 0
    duplicates: int = 0
    left_out: int = 0
    classes: dict[str, int] = field(default_factory=dict)
    dropped_classes: dict[str, int] = field(default_factory=dict)


def consenting_farms(engine: Engine, farm_id: int | None = None) -> list[int]:
    query = select(POLICY.c.farm_id).where(POLICY.c.training_consent.is_(True))
    if farm_id is not None:
        query = query.where(POLICY.c.farm_id == farm_id)
    with engine.connect() as conn:
        return sorted(conn.execute(query).scalars())


def _class_of(verdict: str, answered: str, named: str | None) -> str | None:
    label = answered if verdict == "confirmed" else named
    if not label or label == "uncertain" or not _CLASS.match(label):
        return None
    return label


def _detections(engine: Engine, farms: list[int], since: datetime | None) -> Iterator[Candidate]:
    query = (select(DETECTION.c.id, DETECTION.c.label, DETECTION.c.thumbnail, DETECTION.c.ts,
                    DETECTION.c.device_id, DEVICE.c.farm_id, DEVICE.c.field_id,
                    VERDICT.c.verdict, VERDICT.c.label.label("named"), VERDICT.c.given_by,
                    VERDICT.c.given_at, DETECTION.c.model_name, DETECTION.c.model_version)
             .join(DETECTION, DETECTION.c.id == VERDICT.c.detection_id)
             .join(DEVICE, DEVICE.c.id == DETECTION.c.device_id)
             .where(DEVICE.c.farm_id.in_(farms), DETECTION.c.thumbnail.is_not(None),
                    *([DETECTION.c.ts >= since] if since else []))
             .order_by(DETECTION.c.id))
    with engine.connect() as conn:
        for r in conn.execution_options(yield_per=500).execute(query):
            label = _class_of(r.verdict, r.label, r.named)
            yield Candidate(label or "", bytes(r.thumbnail), {
                "source": "detection", "source_id": r.id, "farm_id": r.farm_id,
                "field_id": r.field_id, "device_id": r.device_id, "taken_by": "",
                "taken_at": iso(r.ts), "verdict": r.verdict, "verdict_by": r.given_by,
                "verdict_at": iso(r.given_at), "model_name": r.model_name,
                "model_version": r.model_version})


def _observations(engine: Engine, farms: list[int], since: datetime | None,
                  photos: PhotoStore) -> Iterator[Candidate]:
    v = OBSERVATION_VERDICT
    query = (select(OBSERVATION.c.id, OBSERVATION.c.label, OBSERVATION.c.photo_path,
                    OBSERVATION.c.taken_at, OBSERVATION.c.taken_by, OBSERVATION.c.farm_id,
                    OBSERVATION.c.field_id, v.c.verdict, v.c.label.label("named"),
                    v.c.given_by, v.c.given_at, OBSERVATION.c.model_name,
                    OBSERVATION.c.model_version)
             .join(OBSERVATION, OBSERVATION.c.id == v.c.observation_id)
             .where(OBSERVATION.c.farm_id.in_(farms), OBSERVATION.c.photo_bytes > 0,
                    *([OBSERVATION.c.taken_at >= since] if since else []))
             .order_by(OBSERVATION.c.id))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    for r in rows:
        try:
            data = photos.path(r.photo_path).read_bytes()
        except FileNotFoundError:
            continue
        label = _class_of(r.verdict, r.label, r.named)
        yield Candidate(label or "", data, {
            "source": "observation", "source_id": r.id, "farm_id": r.farm_id,
            "field_id": r.field_id, "device_id": "", "taken_by": r.taken_by,
            "taken_at": iso(r.taken_at), "verdict": r.verdict, "verdict_by": r.given_by,
            "verdict_at": iso(r.given_at), "model_name": r.model_name,
            "model_version": r.model_version})


def write_training_set(engine: Engine, data_dir: Path, out: Path, farm_id: int | None = None,
                       since: datetime | None = None, min_verdicts: int = 1) -> Written:
    """Write the set into ``out`` (made if missing); FileExistsError when ``out`` holds
    anything already (a set is written whole, never mixed with an older one)."""
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty: write a training set into a new folder")
    farms = consenting_farms(engine, farm_id)
    done = Written()
    chosen: dict[str, Candidate] = {}  # sha256 → the first photo with it
    by_class: dict[str, list[str]] = {}
    candidates = [*_observations(engine, farms, since, PhotoStore(data_dir)),
                  *_detections(engine, farms, since)] if farms else []
    for candidate in candidates:  # scouting photos first: whole photos beat thumbnails
        if not candidate.label:
            done.left_out += 1
            continue
        digest = hashlib.sha256(candidate.data).hexdigest()
        if digest in chosen:
            done.duplicates += 1
            continue
        chosen[digest] = candidate
        by_class.setdefault(candidate.label, []).append(digest)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for label, digests in sorted(by_class.items()):
        if len(digests) < min_verdicts:
            done.dropped_classes[label] = len(digests)
            continue
        folder = out / label
        folder.mkdir(exist_ok=True)
        for digest in digests:
            candidate = chosen[digest]
            name = f"{label}/{digest[:20]}.jpg"
            tmp = out / (name + ".part")
            tmp.write_bytes(candidate.data)
            os.replace(tmp, out / name)
            rows.append({"file": name, "class": label, "sha256": digest, **candidate.row})
        done.classes[label] = len(digests)
        done.photos += len(digests)
    with open(out / PROVENANCE, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(fh, COLUMNS, lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)
    return done
