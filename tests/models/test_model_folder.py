"""``agrifleet model thresholds`` chooses a model folder's thresholds again on its validation
photos, in place: new thresholds, the rule that chose them and the figures they give in the
manifest, the release's part of the report kept; other data than the model's is refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from agrifleet.cli import main
from agrifleet.manifest import read_manifest
from agrifleet.models.split import split_hash
from agrifleet.models.train import collect
from tests.base_model import BASE_MODEL_DIR
from tests.models.test_release import _photos


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    if not (BASE_MODEL_DIR / "model_float.tflite").is_file():
        pytest.skip("no base model")
    dest = tmp_path / "leaf-disease" / "9.9.9"
    shutil.copytree(BASE_MODEL_DIR, dest, ignore=shutil.ignore_patterns("selftest"))
    report = json.loads((dest / "eval_report.json").read_text())
    report["field_predicting"] = {"kept": True}
    (dest / "eval_report.json").write_text(json.dumps(report))
    return dest


def _trained_on(folder: Path, lab: Path, field: Path) -> None:
    """Make the folder's manifest name these photos' split as its training split."""
    _, lab_photos, field_photos = collect(lab, field)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["split"]["hash"] = split_hash(lab_photos + field_photos)
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_thresholds_are_chosen_again_for_the_coverage_asked(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lab = _photos(tmp_path / "lab", 14, 0)
    field = _photos(tmp_path / "field", 6, 1000)
    _trained_on(folder, lab, field)
    before = read_manifest(folder)
    code = main(["model", "thresholds", str(folder), "--data", str(lab), "--field", str(field),
                 "--coverage", "1.0", "--threads", "1"])
    out = capsys.readouterr().out
    assert code == 0, out
    after = read_manifest(folder)
    assert after.sha256 == before.sha256 and after.labels == before.labels
    rule = after.metrics["threshold_rule"]
    assert "precision target is the strictest" in rule and rule in out
    # Answering every lab validation photo needs the loosest target; the figures say so.
    assert "90.0% precision" in rule
    val = after.metrics["int8"]["val"]
    assert val["count"] > 0 and 0.0 <= val["covered"] <= 1.0
    assert set(after.thresholds) == set(after.labels)
    assert all(0.35 <= t <= 0.9 for t in after.thresholds.values())
    report = json.loads((folder / "eval_report.json").read_text())
    assert report["field_predicting"] == {"kept": True}
    assert report["int8"]["val"]["count"] == val["count"]


def test_other_photos_than_the_models_are_refused_and_nothing_changes(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lab = _photos(tmp_path / "lab", 4, 0)
    before = (folder / "manifest.json").read_bytes()
    code = main(["model", "thresholds", str(folder), "--data", str(lab), "--threads", "1"])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 2
    assert out[-1].startswith("agrifleet model thresholds: the data's split hash")
    assert (folder / "manifest.json").read_bytes() == before


@pytest.mark.parametrize("coverage", ["0", "1.5"])
def test_a_coverage_outside_0_to_1_is_one_line(
    folder: Path, tmp_path: Path, coverage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["model", "thresholds", str(folder), "--data", str(tmp_path),
                 "--coverage", coverage])
    assert code == 2
    assert "--coverage must be in (0, 1]" in capsys.readouterr().out


@pytest.mark.parametrize("excluded", [False, True])
def test_a_model_trained_without_field_photos_gets_thresholds_from_lab_photos_only(
    folder: Path, tmp_path: Path, excluded: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import agrifleet.models.model_folder as model_folder

    lab = _photos(tmp_path / "lab", 14, 0)
    field = _photos(tmp_path / "field", 10, 1000)
    _trained_on(folder, lab, field)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["training"]["settings"]["exclude_field"] = excluded
    (folder / "manifest.json").write_text(json.dumps(manifest))
    seen: list[int] = []
    real = model_folder.choose_operating_point

    def spy(probs: Any, truth: Any, labels: Any, lab_mask: Any, coverage: float,
            field_weight: float = 1.0) -> Any:
        seen.append(len(probs))
        assert lab_mask.all() or not excluded
        return real(probs, truth, labels, lab_mask, coverage, field_weight)

    monkeypatch.setattr(model_folder, "choose_operating_point", spy)
    _, lab_photos, field_photos = collect(lab, field)
    model_folder.rethreshold(folder, lab_photos, field_photos, threads=1)
    lab_val = sum(p.split == "val" for p in lab_photos)
    field_val = sum(p.split == "val" for p in field_photos)
    assert field_val > 0
    assert seen == [lab_val if excluded else lab_val + field_val]
