"""The model card shows the field-predicting figures of a ``model eval`` report as tables."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from agrifleet.models.card import render
from tests.base_model import BASE_MODEL_DIR

FARM = {"label": {"coverage": 0.5, "confidently_wrong": 0.25},
        "disease": {"top1": 0.75}, "crop": {"top1": 0.625},
        "healthy_vs_diseased": {"accuracy": 0.875}}


def test_card_has_farm_sweep_and_out_of_scope_tables(tmp_path: Path) -> None:
    base = BASE_MODEL_DIR
    if not (base / "eval_report.json").is_file():
        pytest.skip("no base model report")
    folder = tmp_path / "model"
    folder.mkdir()
    for name in ("manifest.json", "labels.txt", "eval_report.json"):
        shutil.copyfile(base / name, folder / name)
    report = json.loads((folder / "eval_report.json").read_text())
    report["field_predicting"] = {
        "split": "test",
        "lab": {"count": 8, "top1": 0.5, "farm": FARM,
                "sweep": {"qualities": [95, 50], "top1": {"128": {"95": 0.5, "50": 0.25},
                                                          "1024": {"95": 0.75, "50": 0.5}}}},
        "out_of_scope": {"count": 4, "answered": 0.25,
                         "per_kind": {"noise": {"answered": 0.5, "count": 2},
                                      "field_background": {"answered": 0.0, "count": 2}}},
    }
    (folder / "eval_report.json").write_text(json.dumps(report))
    card = render(folder)
    assert "## Evaluation that predicts the field" in card
    assert "| lab (8) | 50.0 % | 75.0 % | 62.5 % | 87.5 % | 50.0 % | 25.0 % |" in card
    assert "| px | quality 95 | quality 50 |" in card
    assert "| 128 | 50.0 % | 25.0 % |" in card and "| 1024 | 75.0 % | 50.0 % |" in card
    assert "**25.0 %** answered as a known class (noise 50.0 %, field background 0.0 %)" in card


def test_card_without_the_report_has_no_such_section() -> None:
    # 1.1.0 was evaluated before ``model eval`` wrote field_predicting into its report.
    if not (BASE_MODEL_DIR / "eval_report.json").is_file():
        pytest.skip("no base model report")
    assert "field_predicting" not in (BASE_MODEL_DIR / "eval_report.json").read_text()
    assert "predicts the field" not in render(BASE_MODEL_DIR)
