"""``agrifleet model predict/eval/train/keygen/sign/verify/selftest`` work from the command line
and fail clearly."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path

import pytest

from agrifleet.cli import main
from models.shipped import default_model_dir
from tests.agrifleet.inference.conftest import leaf_jpeg
from tests.base_model import BASE_MODEL_DIR, BASE_VERSION

#: predict and eval run the shipped model; the package commands work on copies of the base model.
needs_model = pytest.mark.skipif(
    not all((d / "manifest.json").is_file() for d in (default_model_dir(), BASE_MODEL_DIR)),
    reason="no shipped or base model",
)


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
    assert main(["model", "eval", "--data", str(data), "--split", "all",
                 "--report", str(report)]) == 0
    out = capsys.readouterr().out
    assert "lab all: top-1" in out and "macro-F1" in out and "ECE" in out
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
    from models.model_folder import package
    from models.train import TrainSettings, collect, train
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


def _package_copy(dest: Path) -> Path:
    """A copy of the base model folder (without its float reference)."""
    shutil.copytree(BASE_MODEL_DIR, dest,
                    ignore=shutil.ignore_patterns("model_float.tflite"))
    return dest


@needs_model
def test_keygen_sign_verify_from_the_command_line(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    keys = tmp_path / "keys"
    assert main(["model", "keygen", "--out", str(keys)]) == 0
    assert (keys / "signing.key").stat().st_mode & 0o777 == 0o600
    assert "key id" in capsys.readouterr().out
    assert main(["model", "keygen", "--out", str(keys)]) == 2  # never overwrites a key
    assert "already exists" in capsys.readouterr().out

    pkg = _package_copy(tmp_path / "pkg")
    assert main(["model", "sign", str(pkg), "--key", str(keys / "signing.key"),
                 "--expires-days", "10"]) == 0
    assert "signed" in capsys.readouterr().out and (pkg / "manifest.sig").is_file()
    assert main(["model", "verify", str(pkg), "--key", str(keys / "signing.pub")]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"OK leaf-disease {BASE_VERSION}") and "images as recorded" in out


@needs_model
def test_verify_an_archive_and_an_upgrade(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    from agrifleet.package import generate_keypair, pack, sign_package

    key, pub = generate_keypair(tmp_path / "keys")
    pkg = _package_copy(tmp_path / BASE_VERSION)
    sign_package(pkg, key)
    archive = tmp_path / "pkg.tar.gz"
    pack(pkg, archive)
    assert main(["model", "verify", str(archive), "--key", str(pub), "--no-selftest"]) == 0
    assert main(["model", "verify", str(archive), "--key", str(pub),
                 "--current", str(BASE_MODEL_DIR)]) == 1
    assert "REFUSED (same_version)" in capsys.readouterr().out.splitlines()[-1]


@needs_model
def test_verify_refuses_with_the_reason(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    from agrifleet.package import generate_keypair, sign_package

    key, _ = generate_keypair(tmp_path / "keys")
    _, other = generate_keypair(tmp_path / "other")
    pkg = _package_copy(tmp_path / "pkg")
    assert main(["model", "verify", str(pkg), "--key", str(other)]) == 1
    assert "REFUSED (unsigned)" in capsys.readouterr().out
    sign_package(pkg, key)
    assert main(["model", "verify", str(pkg), "--key", str(other)]) == 1
    assert "REFUSED (unknown_key)" in capsys.readouterr().out
    (pkg / "selftest" / "extra.png").write_bytes(b"x")
    assert main(["model", "verify", str(pkg), "--key", str(tmp_path / "keys" / "signing.pub")
                 ]) == 1
    assert "REFUSED (tampered)" in capsys.readouterr().out
    assert main(["model", "verify", str(pkg), "--key", str(tmp_path / "absent.pub")]) == 1
    assert "REFUSED (bad_key)" in capsys.readouterr().out


def test_sign_with_a_missing_key_is_one_line(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["model", "sign", str(tmp_path), "--key", str(tmp_path / "nope.key")]) == 2
    out = capsys.readouterr().out
    assert len(out.splitlines()) == 1 and "no such key file" in out


@needs_model
def test_selftest_from_the_command_line(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    pkg = _package_copy(tmp_path / "pkg")
    assert main(["model", "selftest", str(pkg)]) == 0
    assert "images as recorded" in capsys.readouterr().out
    leaf = tmp_path / "leaf.jpg"
    leaf.write_bytes(leaf_jpeg())
    assert main(["model", "selftest", str(pkg), "--images", str(leaf)]) == 0
    assert "wrote 1 self-test images" in capsys.readouterr().out
    (pkg / "selftest" / "answers.json").unlink()
    assert main(["model", "selftest", str(pkg)]) == 2
    assert "no selftest/answers.json" in capsys.readouterr().out


MODELS_DOC = (Path(__file__).resolve().parents[2] / "docs" / "models.md").read_text()


@pytest.mark.parametrize("command", sorted(set(re.findall(r"\bagrifleet model ([a-z]+)",
                                                          MODELS_DOC))))
def test_the_commands_in_docs_models_exist(command: str) -> None:
    from agrifleet.cli import build_parser

    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["model", command, "--help"])
    assert exit_.value.code == 0


def test_signing_without_cryptography_gives_a_one_line_hint(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = ("import sys; sys.modules['cryptography'] = None\n"
            "from agrifleet.cli import main\n"
            f"sys.exit(main(['model', 'keygen', '--out', {str(tmp_path / 'k')!r}]))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "agrifleet[sign]" in done.stderr
    assert not (tmp_path / "k" / "signing.key").exists()


@needs_model
def test_verify_names_the_archive_not_its_temporary_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import subprocess

    from agrifleet.package import generate_keypair, sign_package

    key, pub = generate_keypair(tmp_path / "keys")
    pkg = _package_copy(tmp_path / "pkg")
    sign_package(pkg, key)
    nested = tmp_path / "nested.tar.gz"
    subprocess.run(["tar", "-C", str(tmp_path), "-czf", str(nested), "pkg"], check=True)
    assert main(["model", "verify", str(nested), "--key", str(pub)]) == 1
    out = capsys.readouterr().out
    assert f"REFUSED (missing_file): {nested}: no manifest.json" in out
    assert "agrifleet-verify-" not in out
