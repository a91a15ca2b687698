"""The training set: photos with a verdict of the farms that consent (and no other), in one
folder per class named as the model names it (the model's answer when confirmed, the class
named when rejected), each photo once, with provenance.csv; `agrifleet model train --field`
reads the folder as it is (and counts its photos by farm and class for the model card);
withdrawing consent leaves the farm out of the next set."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

from PIL import Image
from sqlmodel import Session

from agrifleet.fleet.modelops.verdicts import DetectionVerdict
from agrifleet.models.fleet_photos import count_fleet_photos
from agrifleet.models.split import list_photos
from agrifleet.models.train import collect
from tests.fleet.conftest import FleetUnderTest
from tests.fleet.farmdata.data import FarmData
from tests.fleet.farmdata.test_policy import _policy
from tests.fleet.test_cli import _env, _run


def _training_set(fleet: FleetUnderTest, out: Path, *args: str) -> tuple[int, str, str]:
    settings = fleet.app.state.settings
    env = _env(database_url=settings.database_url, data_dir=str(settings.data_dir))
    done = _run("export-training-set", "--out", str(out), *args, env=env)
    return done.returncode, done.stdout, done.stderr


def test_only_consenting_farms_photos_go_in_their_class_folders_once(
        farm_app: FleetUnderTest, two_farms: tuple[FarmData, FarmData], tmp_path: Path) -> None:
    farm, other = two_farms
    assert _policy(farm_app, farm, training_consent=True).status_code == 200
    with Session(farm_app.app.state.engine) as session:  # the other node's identical thumbnail
        session.add(DetectionVerdict(detection_id=farm.detections[2], verdict="confirmed",
                                     model_name="leafnet", model_version="1.0.0",
                                     given_by="vy@example.org"))
        session.commit()
    out = tmp_path / "set"
    code, stdout, stderr = _training_set(farm_app, out)
    assert code == 0, stderr
    assert "wrote 3 photos in 2 classes" in stdout and "1 duplicates" in stdout

    classes = list_photos(out)
    assert {k: len(v) for k, v in classes.items()} == {"Tomato___Early_blight": 2,
                                                        "Tomato___Late_blight": 1}
    with open(out / "provenance.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3
    for row in rows:
        data = (out / row["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == row["sha256"]
        assert row["file"].startswith(row["class"] + "/")
        assert int(row["farm_id"]) == farm.farm_id and row["verdict_by"]
    by_source = {(r["source"], int(r["source_id"])): r for r in rows}
    scouted = by_source[("observation", farm.observations[0])]
    assert scouted["class"] == "Tomato___Early_blight" and scouted["verdict"] == "rejected"
    assert scouted["taken_by"] == "scout@example.org" and scouted["taken_at"].endswith("Z")
    confirmed = by_source[("observation", farm.observations[1])]
    assert confirmed["class"] == "Tomato___Late_blight"  # the model's answer, confirmed
    node = by_source[("detection", farm.detections[0])]
    assert node["device_id"] == farm.devices[0] and node["class"] == "Tomato___Early_blight"
    assert (out / node["file"]).read_bytes() == farm.thumbnails[farm.detections[0]]

    photos = farm_app.app.state.settings.data_dir / "observations"
    written = {hashlib.sha256(p.read_bytes()).hexdigest() for v in classes.values() for p in v}
    for name in other.photos.values():
        assert hashlib.sha256((photos / name).read_bytes()).hexdigest() not in written
    for thumbnail in other.thumbnails.values():
        assert hashlib.sha256(thumbnail).hexdigest() not in written

    lab = tmp_path / "lab"  # `model train --field` takes the folder as it is
    for label in ("Tomato___Early_blight", "Tomato___Late_blight", "Tomato___healthy"):
        (lab / label).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (32, 32), (i * 60, 100, 40)).save(lab / label / f"{i}.png")
    labels, _lab, field = collect(lab, out)
    assert len(field) == 3 and {p.label for p in field} <= set(labels)
    fleet = count_fleet_photos(out, field)  # what the model card will count
    assert fleet is not None and fleet["found"] == 3
    assert {k: sum(v.values()) for k, v in fleet["per_farm"].items()} == {str(farm.farm_id): 3}
    assert {k: sum(v.values()) for k, v in fleet["per_class"].items()} == {
        "Tomato___Early_blight": 2, "Tomato___Late_blight": 1}


def test_fewer_verdicts_than_asked_leave_a_class_out_and_consent_can_be_withdrawn(
        farm_app: FleetUnderTest, two_farms: tuple[FarmData, FarmData], tmp_path: Path) -> None:
    farm, other = two_farms
    assert _policy(farm_app, farm, training_consent=True).status_code == 200
    code, stdout, _ = _training_set(farm_app, tmp_path / "two", "--min-verdicts", "2")
    assert code == 0 and "left out Tomato___Late_blight: 1 photos" in stdout
    assert set(list_photos(tmp_path / "two")) == {"Tomato___Early_blight"}

    code, _, stderr = _training_set(farm_app, tmp_path / "other", "--farm", str(other.farm_id))
    assert code == 1 and "has not consented" in stderr
    code, _, stderr = _training_set(farm_app, tmp_path / "two")
    assert code == 1 and "not empty" in stderr
    code, _, _ = _training_set(farm_app, tmp_path / "later", "--since", "2026-06-02")
    assert code == 0 and sum(len(v) for v in list_photos(tmp_path / "later").values()) == 1

    assert _policy(farm_app, farm, training_consent=False).status_code == 200
    code, stdout, _ = _training_set(farm_app, tmp_path / "none")
    assert code == 0 and "wrote 0 photos" in stdout
    assert [p.name for p in (tmp_path / "none").iterdir()] == ["provenance.csv"]
