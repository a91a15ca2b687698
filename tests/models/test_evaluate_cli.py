"""``agrifleet model eval`` on a tiny .tflite model and photos whose figures are known by hand
writes the farm figures, the sweep and the out-of-scope rate beside the existing ones."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from agrifleet.cli import main
from agrifleet.inference.preprocess import preprocess
from agrifleet.inference.runtime import ENV_VAR
from agrifleet.models.evaluate import TFLiteModel
from agrifleet.models.shipped import default_model_dir
from agrifleet.models.sweep import QUALITIES, SIZES
from tests.agrifleet.inference.conftest import DATA, leaf_jpeg


@pytest.fixture
def tiny(tmp_path: Path, runtime: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list[str]]:
    """The 32 px test model with the shipped model's 31 labels beside it (no manifest)."""
    labels_file = default_model_dir() / "labels.txt"
    if not labels_file.is_file():
        pytest.skip("no shipped labels")
    monkeypatch.setenv(ENV_VAR, runtime)
    folder = tmp_path / "tiny"
    folder.mkdir()
    shutil.copyfile(DATA / "tiny_32px.tflite", folder / "model.tflite")
    shutil.copyfile(labels_file, folder / "labels.txt")
    return folder / "model.tflite", labels_file.read_text().splitlines()


def test_eval_figures_match_a_set_built_to_be_three_quarters_right(
    tiny: tuple[Path, list[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model_path, labels = tiny
    photos = [leaf_jpeg((192, 192), seed=s, spots=30) for s in range(4)]
    model = TFLiteModel(model_path, threads=1)
    guesses = model.predict(np.stack([preprocess(p, 32) for p in photos])).argmax(axis=1)
    data = tmp_path / "photos"
    for i, (photo, guess) in enumerate(zip(photos, guesses, strict=True)):
        # The first three photos are labelled as the model answers, the last one otherwise.
        label = labels[guess] if i < 3 else labels[(guess + 1) % len(labels)]
        (data / label).mkdir(parents=True, exist_ok=True)
        (data / label / f"{i:016x}.jpg").write_bytes(photo)
    report = tmp_path / "report"
    assert main(["model", "eval", "--model", str(model_path), "--data", str(data),
                 "--split", "all", "--report", str(report), "--out-of-scope", "2",
                 "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "sweep (4 photos)" in out and "out of scope:" in out and "confidently wrong" in out
    saved = json.loads((report / "eval_report.json").read_text())
    lab = saved["lab"]
    assert lab["top1"] == 0.75 and lab["count"] == 4  # the existing fields stay
    # Without a manifest there are no thresholds: everything is answered, so every wrong
    # answer is a confident one.
    assert lab["farm"]["label"] == {"coverage": 1.0, "selective_accuracy": 0.75,
                                    "confidently_wrong": 0.25, "count": 4}
    assert lab["sweep"]["sizes"] == list(SIZES) and lab["sweep"]["qualities"] == list(QUALITIES)
    assert set(lab["sweep"]["top1"]) == {str(s) for s in SIZES}
    assert all(set(row) == {str(q) for q in QUALITIES} for row in lab["sweep"]["top1"].values())
    oos = saved["out_of_scope"]
    assert oos["count"] == 12 and oos["answered"] == 1.0  # 6 kinds x 2, no field photos
    assert set(oos["per_kind"]) == {"noise", "smooth_noise", "gradient", "flat", "stripes",
                                    "checkerboard"}


def test_eval_can_skip_the_sweep_and_out_of_scope(
    tiny: tuple[Path, list[str]], tmp_path: Path
) -> None:
    model_path, labels = tiny
    data = tmp_path / "photos"
    (data / labels[0]).mkdir(parents=True)
    (data / labels[0] / "0000000000000000.jpg").write_bytes(leaf_jpeg())
    report = tmp_path / "report"
    assert main(["model", "eval", "--model", str(model_path), "--data", str(data),
                 "--split", "all", "--report", str(report), "--no-sweep",
                 "--out-of-scope", "0"]) == 0
    saved = json.loads((report / "eval_report.json").read_text())
    assert "sweep" not in saved["lab"] and "out_of_scope" not in saved
    assert "farm" in saved["lab"]


def test_eval_with_an_unreadable_photo_or_no_folder_is_one_line(
    tiny: tuple[Path, list[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model_path, labels = tiny
    data = tmp_path / "photos"
    (data / labels[0]).mkdir(parents=True)
    (data / labels[0] / "0000000000000000.jpg").write_bytes(b"\xff\xd8\xff not a photo")
    common = ["--model", str(model_path), "--split", "all", "--report", str(tmp_path / "r")]
    assert main(["model", "eval", "--data", str(data), *common]) == 2
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith("agrifleet model eval: ") and "0000000000000000.jpg" in out[-1]
    assert main(["model", "eval", "--data", str(tmp_path / "nowhere"), *common]) == 2
    assert capsys.readouterr().out.startswith("agrifleet model eval: ")


def _labelled(folder: Path, model: Path, labels: list[str], photos: list[bytes],
              right: int) -> None:
    """``photos`` under class folders: the first ``right`` as the model answers, the rest not."""
    guesses = TFLiteModel(model, threads=1).predict(
        np.stack([preprocess(p, 32) for p in photos])).argmax(axis=1)
    for i, (photo, guess) in enumerate(zip(photos, guesses, strict=True)):
        label = labels[guess] if i < right else labels[(guess + 1) % len(labels)]
        (folder / label).mkdir(parents=True, exist_ok=True)
        (folder / label / f"{i:016x}.jpg").write_bytes(photo)


def test_leave_field_out_model_is_measured_on_every_field_photo_and_floors_are_printed(
    tiny: tuple[Path, list[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model_path, labels = tiny
    other = tmp_path / "leave-field-out"
    shutil.copytree(model_path.parent, other)
    _labelled(tmp_path / "lab", model_path, labels,
              [leaf_jpeg((160, 160), seed=s) for s in range(2)], right=2)
    _labelled(tmp_path / "field", model_path, labels,
              [leaf_jpeg((200, 150), seed=10 + s, spots=25) for s in range(4)], right=1)
    report = tmp_path / "report"
    args = ["model", "eval", "--model", str(model_path), "--data", str(tmp_path / "lab"),
            "--field", str(tmp_path / "field"), "--split", "test", "--report", str(report),
            "--no-sweep", "--out-of-scope", "1", "--threads", "1",
            "--leave-field-out", str(other)]
    assert main(args) == 0  # floors are printed, but only --check-floors fails on them
    out = capsys.readouterr().out
    saved = json.loads((report / "eval_report.json").read_text())
    lfo = saved["leave_field_out"]
    # Every field photo, whatever its split, and a quarter of them labelled as it answers.
    assert lfo["field"]["count"] == 4 and lfo["field"]["top1"] == 0.25
    assert lfo["model"] == str(other / "model.tflite")
    assert lfo["trained_without_field"] is False  # no manifest says so
    assert "not a leave-field-out one" in out
    assert lfo["field"]["farm"]["disease"]["count"] == 4
    floors = {f["name"]: f for f in saved["floors"]}
    assert floors["multiply-adds per photo"]["value"] == 7036
    assert floors["multiply-adds per photo"]["passed"] is True
    # the field test photos here are the ones labelled against the model's answer
    assert floors["field test top-1"]["passed"] is False
    assert "FAIL  field test top-1" in out
    assert "PASS  multiply-adds per photo 0.0 M" in out
    assert saved["cost"]["size_bytes"] == model_path.stat().st_size
    assert main([*args, "--check-floors"]) == 1


def test_leave_field_out_without_field_photos_is_one_line(
    tiny: tuple[Path, list[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model_path, labels = tiny
    _labelled(tmp_path / "lab", model_path, labels, [leaf_jpeg()], right=1)
    assert main(["model", "eval", "--model", str(model_path), "--data", str(tmp_path / "lab"),
                 "--split", "all", "--report", str(tmp_path / "r"), "--no-sweep",
                 "--out-of-scope", "0", "--leave-field-out", str(model_path.parent)]) == 2
    assert capsys.readouterr().out.strip().splitlines()[-1] == (
        "agrifleet model eval: --leave-field-out needs --field: the field photos to test it on")


def test_the_sweep_can_take_the_first_photos_of_each_class(tmp_path: Path) -> None:
    from agrifleet.models.eval_report import sweep_subset
    from agrifleet.models.split import Photo

    photos = [Photo(path=tmp_path / label / name, label=label, split="test", group=name)
              for label, name in [("b", "2.jpg"), ("a", "9.jpg"), ("b", "1.jpg"),
                                  ("a", "3.jpg"), ("b", "3.jpg")]]
    assert sweep_subset(photos, 0) == [0, 1, 2, 3, 4]
    assert sweep_subset(photos, 1) == [2, 3]  # b/1.jpg and a/3.jpg
    assert sweep_subset(photos, 2) == [0, 1, 2, 3]
