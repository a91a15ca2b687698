"""The card puts this version's figures beside the earlier versions': read from their folders
when present (their ``model eval`` report beats the recorded figures), else the recorded ones;
later versions are not "earlier"."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from agrifleet.manifest import read_manifest
from agrifleet.models.card_field import RECORDED, comparison, earlier_versions, headline
from agrifleet.models.shipped import default_model_dir
from tests.base_model import BASE_MODEL_DIR


def _version(root: Path, version: str, field_predicting: dict[str, object] | None) -> Path:
    """A folder of ``version`` made from the base model's (1.1.0: its figures are the ones
    recorded)."""
    base = BASE_MODEL_DIR
    if not (base / "eval_report.json").is_file():
        pytest.skip("no base model report")
    folder = root / version
    folder.mkdir(parents=True)
    for name in ("manifest.json", "labels.txt", "eval_report.json"):
        shutil.copyfile(base / name, folder / name)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["version"] = version
    (folder / "manifest.json").write_text(json.dumps(manifest))
    if field_predicting is not None:
        report = json.loads((folder / "eval_report.json").read_text())
        report["field_predicting"] = field_predicting
        (folder / "eval_report.json").write_text(json.dumps(report))
    return folder


def test_an_earlier_folders_eval_report_beats_the_recorded_figure(tmp_path: Path) -> None:
    _version(tmp_path, "1.1.0", {"out_of_scope": {"answered": 0.2},
                                 "cost": {"multiply_adds": 123_000_000}})
    new = _version(tmp_path, "2.0.0", {"lab": {"top1": 0.99}})
    _version(tmp_path, "3.0.0", None)
    earlier = dict(earlier_versions(new, "2.0.0"))
    assert list(earlier) == ["1.0.0", "1.1.0"]
    assert earlier["1.1.0"]["out_of_scope_answered"] == 0.2
    assert earlier["1.1.0"]["multiply_adds"] == 123_000_000
    assert earlier["1.1.0"]["unseen_lab_top1"] == RECORDED["1.1.0"]["unseen_lab_top1"]
    assert earlier["1.0.0"] == RECORDED["1.0.0"]
    lines = comparison(new, read_manifest(new), {"lab": {"top1": 0.99}})
    assert "| | 1.0.0 | 1.1.0 | 2.0.0 |" in lines
    assert "| lab photos, own test split: top-1 | 89.7 % | 98.2 % | 99.0 % |" in lines
    assert "| out-of-scope images answered with a known class | – | 20.0 % | – |" in lines


def test_without_an_eval_report_the_manifest_figures_are_used() -> None:
    shipped = default_model_dir()
    if not (shipped / "manifest.json").is_file():
        pytest.skip("no shipped model")
    manifest = read_manifest(shipped)
    figures = headline(None, manifest)
    assert figures["lab_top1"] == manifest.metrics["int8"]["test"]["top1"]
    assert figures["size_bytes"] == manifest.size_bytes
    runs = [*manifest.training.get("previous_runs", []), manifest.training]  # a fine-tune's too
    assert figures["train_seconds"] == sum(r["train_seconds"] for r in runs)
    assert figures["lfo_top1"] is None
