"""The fleet's own photos in a field folder: a folder written by ``agrifleet fleet
export-training-set`` (class folders and provenance.csv), alone or merged with public field
photos, is counted by split, farm and class when a model is trained, and the model card says
how many of them the model was trained on, apart from the public photos. A broken
provenance.csv is refused with the file and line named, before any training."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from agrifleet.cli import main
from agrifleet.models.card import render
from agrifleet.models.fleet_photos import count_fleet_photos, read_provenance
from agrifleet.models.split import split_field
from tests.base_model import BASE_MODEL_DIR

# The folders here are written as the fleet's export-training-set writes them: its columns and
# file name. An environment without the fleet extra (the tflite-runtime one) skips this file.
training_set = pytest.importorskip("agrifleet.fleet.farmdata.training_set",
                                   reason="the fleet extra is not installed")
COLUMNS, PROVENANCE = training_set.COLUMNS, training_set.PROVENANCE

CLASSES = ("Tomato___Early_blight", "Tomato___Late_blight")


def _photo(path: Path, seed: int) -> None:
    pixels = np.random.default_rng(seed).integers(0, 255, (24, 24, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, format="JPEG")


def field_folder(root: Path) -> Path:
    """Ten photos per class: the first six the fleet's (farms 3 and 7, in provenance.csv as the
    fleet writes it), the other four public ones merged in."""
    rows = []
    for c, label in enumerate(CLASSES):
        for i in range(10):
            name = f"{c}{i:02d}{'f' if i < 6 else 'p'}abcdef0123456789.jpg"
            _photo(root / label / name, seed=100 * c + i)
            if i < 6:
                rows.append({column: "" for column in COLUMNS} | {
                    "file": f"{label}/{name}", "class": label, "farm_id": "3" if i < 4 else "7",
                    "source": "observation", "verdict": "rejected"})
    with open(root / PROVENANCE, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(fh, COLUMNS, lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)
    return root


def test_the_fleets_photos_are_counted_by_split_farm_and_class(tmp_path: Path) -> None:
    folder = field_folder(tmp_path / "field")
    photos = split_field(folder)
    fleet = count_fleet_photos(folder, photos)
    assert fleet is not None
    assert fleet["listed"] == fleet["found"] == 12  # the 8 public photos are not the fleet's
    ours = [p for p in photos if p.path.name[3] == "f"]
    expected = {s: sum(p.split == s for p in ours) for s in ("train", "val", "test")}
    assert fleet["splits"] == expected and fleet["trained_on"] == expected["train"]
    assert sum(fleet["per_farm"]["3"].values()) == 8 and sum(fleet["per_farm"]["7"].values()) == 4
    assert list(fleet["per_farm"]) == ["3", "7"]
    for label in CLASSES:
        assert fleet["per_class"][label]["train"] == sum(
            p.split == "train" for p in ours if p.label == label)

    fewer = count_fleet_photos(folder, [p for p in photos if p.label == CLASSES[0]],
                               trained_on_field=False)
    assert fewer is not None and fewer["found"] == 6 and fewer["trained_on"] == 0
    assert count_fleet_photos(None, photos) is None
    (folder / PROVENANCE).unlink()
    assert count_fleet_photos(folder, photos) is None  # public photos only


def test_the_card_says_how_many_fleet_photos_the_model_was_trained_on(tmp_path: Path) -> None:
    folder = field_folder(tmp_path / "field")
    fleet = count_fleet_photos(folder, split_field(folder))
    assert fleet is not None
    model = tmp_path / "model"
    model.mkdir()
    for name in ("manifest.json", "labels.txt", "eval_report.json"):
        shutil.copyfile(BASE_MODEL_DIR / name, model / name)
    manifest = json.loads((model / "manifest.json").read_text())
    field_total = sum(manifest["split"]["counts"]["field"].values())
    public_before = f"CoDS-COMAD 2020. CC BY 4.0. {field_total} field photos"
    assert public_before in render(model)
    assert "The fleet's own photos: none" in render(model)

    manifest["training"]["fleet_photos"] = fleet
    (model / "manifest.json").write_text(json.dumps(manifest))
    card = render(model)
    assert f"CoDS-COMAD 2020. CC BY 4.0. {field_total - 12} field photos" in card
    assert f"12 of the field photos, **{fleet['trained_on']} trained on**" in card
    s = fleet["splits"]
    assert f"{s['val']} validation (choosing the epoch and the thresholds) and {s['test']} test" \
        in card
    for farm, c in fleet["per_farm"].items():
        assert f"  | {farm} | {c['train']} | {c['val']} | {c['test']} |" in card
    for label, c in fleet["per_class"].items():
        assert f"  | {label} | {c['train']} | {c['val']} | {c['test']} |" in card

    manifest["training"]["fleet_photos"] = count_fleet_photos(
        folder, split_field(folder), trained_on_field=False)
    (model / "manifest.json").write_text(json.dumps(manifest))
    card = render(model)
    assert "**0 trained on** (trained with `--exclude-field`" in card
    assert "  | 3 | 0 |" in card


@pytest.mark.parametrize(("header", "line", "said"), [
    ("file,class\r\n", "", "no column farm_id"),
    ("file,class,farm_id\r\n", "Tomato___Late_blight/a.jpg,Tomato___Early_blight,3\r\n",
     "line 2: file 'Tomato___Late_blight/a.jpg' is not CLASS/NAME of class"),
    ("file,class,farm_id\r\n", "a.jpg,Tomato___Early_blight,3\r\n", "line 2"),
    ("file,class,farm_id\r\n", "Tomato___Early_blight/a.jpg,Tomato___Early_blight,\r\n",
     "with a farm_id"),
])
def test_a_broken_provenance_file_is_refused_by_name(tmp_path: Path, header: str, line: str,
                                                     said: str) -> None:
    (tmp_path / PROVENANCE).write_text(header + line, encoding="utf-8")
    with pytest.raises(ValueError, match=r"provenance\.csv") as caught:
        read_provenance(tmp_path)
    assert said in str(caught.value)


def test_model_train_refuses_a_broken_provenance_file_before_training(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = field_folder(tmp_path / "field")
    with open(folder / PROVENANCE, "a", encoding="utf-8") as fh:
        fh.write("elsewhere.jpg,,,,,3\r\n")
    assert main(["model", "train", "--data", str(folder), "--field", str(folder),
                 "--out", str(tmp_path / "m")]) == 2
    out = capsys.readouterr().out
    assert out.startswith("agrifleet model train: ") and "line 14" in out
    assert not (tmp_path / "m").exists() and not (tmp_path / "m-run").exists()
