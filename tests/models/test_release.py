"""``agrifleet model release`` turns a trained model folder into a shippable package in one
command: the eval report inside it, a new self-test, the card with every figure and the earlier
versions beside, and a signature that verifies; bad input is one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from agrifleet.cli import main
from agrifleet.inference.selftest import read_answers, run_selftest
from agrifleet.package import generate_keypair, load_public_keys, verify_package
from tests.agrifleet.inference.conftest import leaf_jpeg
from tests.base_model import BASE_MODEL_DIR, BASE_VERSION

LABELS = ("Tomato___healthy", "Tomato___Late_blight", "Potato___Late_blight")


@pytest.fixture
def trained(tmp_path: Path) -> Path:
    """The base model folder (1.1.0, whose figures the card states) copied as version 2.0.0,
    as model train would leave it."""
    if not (BASE_MODEL_DIR / "manifest.json").is_file():
        pytest.skip("no base model")
    dest = tmp_path / "leaf-disease" / "2.0.0"
    shutil.copytree(BASE_MODEL_DIR, dest, ignore=shutil.ignore_patterns(
        "model_float.tflite", "selftest", "MODEL_CARD.md"))
    manifest = json.loads((dest / "manifest.json").read_text())
    manifest["version"] = "2.0.0"
    (dest / "manifest.json").write_text(json.dumps(manifest))
    return dest


def _photos(root: Path, per_class: int, seed: int) -> Path:
    for c, label in enumerate(LABELS):
        (root / label).mkdir(parents=True)
        for i in range(per_class):
            (root / label / f"{seed + 97 * c + i:016x}.jpg").write_bytes(
                leaf_jpeg((180, 160), seed=seed + 31 * c + i, spots=6 * c + 4, vary=True))
    return root


def test_one_command_makes_a_signed_package_with_report_selftest_and_card(
    trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lab = _photos(tmp_path / "lab", 12, 0)
    field = _photos(tmp_path / "field", 6, 1000)
    key, pub = generate_keypair(tmp_path / "keys")
    code = main(["model", "release", str(trained), "--data", str(lab), "--field", str(field),
                 "--leave-field-out", str(BASE_MODEL_DIR), "--key", str(key),
                 "--no-sweep", "--out-of-scope", "1", "--threads", "1", "--check-floors"])
    out = capsys.readouterr().out
    assert code == 1  # a base-model copy on generated leaves misses floors, and says so
    assert "FAIL  " in out and "floors: " in out
    report = json.loads((trained / "eval_report.json").read_text())
    assert {"int8", "float", "field_predicting"} <= set(report)  # train's figures are kept
    fp = report["field_predicting"]
    assert fp["model"] == "leaf-disease/2.0.0/model.tflite"
    assert fp["leave_field_out"]["field"]["count"] == 6 * len(LABELS)  # every field photo
    assert fp["leave_field_out"]["model"] == f"{BASE_VERSION}/model.tflite"
    assert fp["cost"]["multiply_adds"] == 270_026_496
    assert {f["name"] for f in fp["floors"]} >= {"lab test top-1", "int8 file size"}
    answers = read_answers(trained)
    assert {a.made_from for a in answers.images.values()} <= set(LABELS)
    assert run_selftest(trained).ok
    card = (trained / "MODEL_CARD.md").read_text()
    assert "## Evaluation that predicts the field" in card and "**Leave-field-out.**" in card
    # 1.1.0 trained on field photos: a stand-in here, and the card says it is none.
    assert "is not a leave-field-out figure" in card
    assert "| | 1.0.0 | 1.1.0 | 2.0.0 |" in card
    assert "| multiply-adds per photo | 17.6 M | 270.0 M | 270.0 M |" in card
    assert "Raspberry Pi 4" in card and "estimated" in card
    manifest = verify_package(trained, load_public_keys([pub]))
    assert manifest.version == "2.0.0"


def test_a_folder_that_is_no_model_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lab = _photos(tmp_path / "lab", 1, 0)
    assert main(["model", "release", str(tmp_path / "nothing"), "--data", str(lab)]) == 2
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("agrifleet model release: ")
