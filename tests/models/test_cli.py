"""``agrifleet model predict/eval/train`` work from the command line and fail clearly; every
``agrifleet model`` command named in docs/models.md exists."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path

import pytest

from agrifleet.cli import main
from agrifleet.models.shipped import default_model_dir
from tests.agrifleet.inference.conftest import leaf_jpeg
from tests.base_model import needs_model


@needs_model
def test_predict_json_one_object_per_image(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                           ) -> None:
    good = tmp_path / "leaf.jpg"
    good.write_bytes(leaf_jpeg())
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff broken")
    assert main(["model", "predict", str(good), str(bad), "--json"]) == 1
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows[0]["image"] == str(good)
    assert isinstance(rows[0]["label"], str) and 0 <= rows[0]["confidence"] <= 1
    assert len(rows[0]["top3"]) == 3
    for part in ("crop", "disease"):
        answer = rows[0][part]
        assert set(answer) == {"name", "confidence", "uncertain", "best"}
        assert answer["name"] in (answer["best"], "uncertain") and 0 <= answer["confidence"] <= 1
    assert rows[1]["image"] == str(bad) and "not a photo the fleet can read" in rows[1]["error"]


def test_predict_with_a_broken_model_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                            ) -> None:
    image = tmp_path / "leaf.jpg"
    image.write_bytes(leaf_jpeg())
    assert main(["model", "predict", "--model", str(tmp_path), str(image)]) == 2
    assert "no manifest.json" in capsys.readouterr().out


@needs_model
def test_eval_on_new_photos_writes_a_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                            ) -> None:
    labels = (default_model_dir() / "labels.txt").read_text().splitlines()
    data = tmp_path / "photos"
    for c, label in enumerate(labels[:2]):
        (data / label).mkdir(parents=True)
        for i in range(3):
            (data / label / f"{c}{i}.jpg").write_bytes(leaf_jpeg(seed=10 * c + i))
    report = tmp_path / "report"
    # Few generated images: their figures have tests of their own (test_evaluate_out_of_scope),
    # and on tflite-runtime's kernels the default 40 per kind takes a minute and a half.
    assert main(["model", "eval", "--data", str(data), "--split", "all",
                 "--report", str(report), "--out-of-scope", "4"]) == 0
    out = capsys.readouterr().out
    assert "lab all: top-1" in out and "macro-F1" in out and "ECE" in out
    assert "out of scope:" in out
    saved = json.loads((report / "eval_report.json").read_text())
    assert saved["lab"]["count"] == 6 and len(saved["lab"]["confusion"]) == len(labels)


@needs_model
def test_eval_refuses_classes_the_model_does_not_know(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "Banana___sigatoka").mkdir()
    (tmp_path / "Banana___sigatoka" / "a.jpg").write_bytes(leaf_jpeg())
    assert main(["model", "eval", "--data", str(tmp_path), "--split", "all",
                 "--report", str(tmp_path / "r")]) == 2
    assert "Banana___sigatoka" in capsys.readouterr().out


@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is not None,
                    reason="TensorFlow is installed here")
def test_train_without_tensorflow_gives_a_one_line_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["model", "train", "--data", str(tmp_path), "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "agrifleet[train]" in err


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # raised inside Keras/TensorFlow
@pytest.mark.filterwarnings("ignore::UserWarning:keras.*")
def test_training_pipeline_exports_and_packages(tmp_path: Path) -> None:
    pytest.importorskip("tensorflow")
    from agrifleet.inference.classifier import Classifier
    from agrifleet.models.model_folder import package
    from agrifleet.models.train import TrainSettings, collect, train
    from tests.models.test_split import _dataset

    data = _dataset(tmp_path / "data", classes=3, per_class=24)
    work = tmp_path / "run"
    train(data, work, None, TrainSettings(size=32, width=0.25, epochs=1, batch=16,
                                          calibration_images=6))
    _, lab, fld = collect(data, None)
    dest = tmp_path / "toy" / "0.1.0"
    manifest = package(work, lab, fld, dest, "toy", "0.1.0")
    assert manifest.input.shape == [1, 32, 32, 3] and manifest.input.dtype == "int8"
    assert Classifier.load(dest).classify(leaf_jpeg()).top3
    shutil.rmtree(work)


MODELS_DOC = (Path(__file__).resolve().parents[2] / "docs" / "models.md").read_text()


@pytest.mark.parametrize("command", sorted(set(re.findall(r"\bagrifleet model ([a-z]+)",
                                                          MODELS_DOC))))
def test_the_commands_in_docs_models_exist(command: str) -> None:
    from agrifleet.cli import build_parser

    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["model", command, "--help"])
    assert exit_.value.code == 0
