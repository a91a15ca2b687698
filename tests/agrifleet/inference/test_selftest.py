"""A package's self-test passes only when this interpreter gives the recorded answers on its images.

The shipped model's self-test is run in every installed runtime; damaged images, answers for
another model, a missing answer and a changed preprocessing (colour channels swapped) all fail.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from agrifleet.inference.classifier import Classifier
from agrifleet.inference.preprocess import preprocess
from agrifleet.inference.selftest import (
    ANSWERS_NAME,
    SELFTEST_DIR,
    compare,
    images_in,
    read_answers,
    record_answers,
    run_selftest,
)
from agrifleet.manifest import read_manifest
from agrifleet.package import PackageError
from tests.base_model import BASE_MODEL_DIR


@pytest.fixture
def package(tmp_path: Path) -> Path:
    """A copy of the base model's package (1.1.0, without the float model) that a test may
    damage: its images are known, some with an answer too close to record at tolerance 0.1."""
    if not (BASE_MODEL_DIR / "manifest.json").is_file():
        pytest.skip(f"no base model at {BASE_MODEL_DIR}")
    dest = tmp_path / "pkg"
    shutil.copytree(BASE_MODEL_DIR, dest, ignore=shutil.ignore_patterns("model_float.tflite"))
    return dest


def test_the_shipped_selftest_passes_here(runtime: str, shipped_dir: Path) -> None:
    result = run_selftest(shipped_dir, runtime=runtime)
    assert result.ok, result.summary()
    assert result.runtime == runtime
    assert result.checked == len(images_in(shipped_dir)) >= 30
    assert result.max_difference <= read_answers(shipped_dir).tolerance
    result.raise_for_failures()


def test_the_shipped_selftest_passes_on_the_reference_kernels(shipped_dir: Path) -> None:
    # TFLite's reference kernels (no XNNPACK): the closest this machine has to another CPU.
    from agrifleet.inference.selftest import reference_classifier

    if reference_classifier(Classifier.load(shipped_dir)) is None:
        pytest.skip("this runtime cannot select the reference kernels")
    result = run_selftest(shipped_dir, reference_kernels=True)
    assert result.ok, result.summary()
    assert result.runtime.endswith("-reference") and result.max_difference > 0


def test_the_shipped_selftest_is_small_and_covers_every_class(shipped_dir: Path) -> None:
    folder = shipped_dir / SELFTEST_DIR
    # 31 small PNGs and their answers: at most 8 KiB a class, a sixteenth of the model file.
    assert sum(p.stat().st_size for p in folder.iterdir()) <= 256 * 1024  # 64 px photos
    answers = read_answers(shipped_dir)
    labels = read_manifest(shipped_dir).labels
    made_from = {a.made_from for a in answers.images.values()}
    assert made_from == set(labels)
    assert {a.label for a in answers.images.values()} <= set(labels)
    assert answers.model_sha256 == read_manifest(shipped_dir).sha256


@pytest.mark.data
def test_no_selftest_image_is_a_photo_of_the_data_set(shipped_dir: Path,
                                                       shared_data: Path) -> None:
    # Every photo's file name is the first 16 hex digits of its SHA-256 (docs/models.md).
    photo_names = {p.stem for p in shared_data.glob("*/*/*")}
    assert len(photo_names) > 1000
    for image in (shipped_dir / SELFTEST_DIR).glob("*.png"):
        digest = hashlib.sha256(image.read_bytes()).hexdigest()[:16]
        assert digest not in photo_names, image.name
        with Image.open(image) as img:
            assert max(img.size) <= 64


def test_a_changed_image_fails_and_is_named(package: Path, runtime: str) -> None:
    name = images_in(package)[3]
    path = package / SELFTEST_DIR / name
    with Image.open(path) as img:
        swapped = Image.fromarray(np.asarray(img.convert("RGB"))[..., ::-1].copy())
    swapped.save(path)
    result = run_selftest(package, runtime=runtime)
    assert not result.ok and [f.image for f in result.failures] == [name]
    with pytest.raises(PackageError) as info:
        result.raise_for_failures()
    assert info.value.reason == "selftest_failed" and name in str(info.value)


def test_a_preprocessing_that_swaps_colour_channels_is_caught(shipped_dir: Path) -> None:
    classifier = Classifier.load(shipped_dir)
    answers = read_answers(shipped_dir)
    labels = classifier.manifest.labels
    caught = 0
    for name, answer in answers.images.items():
        pixels = preprocess(shipped_dir / SELFTEST_DIR / name, classifier.size)
        right, _ = classifier.probabilities(pixels)
        wrong, _ = classifier.probabilities(pixels[..., ::-1].copy())
        assert compare(answer, labels, right, answers.tolerance)[0] is None
        caught += compare(answer, labels, wrong, answers.tolerance)[0] is not None
    assert caught >= 0.9 * len(answers.images)


def test_answers_for_another_model_fail(package: Path) -> None:
    path = package / SELFTEST_DIR / ANSWERS_NAME
    data = json.loads(path.read_text())
    data["model_sha256"] = "0" * 64
    path.write_text(json.dumps(data))
    result = run_selftest(package)
    assert not result.ok and "another model" in result.failures[0].reason


def test_a_changed_recorded_probability_fails(package: Path) -> None:
    path = package / SELFTEST_DIR / ANSWERS_NAME
    data = json.loads(path.read_text())
    first = next(iter(data["images"].values()))
    first["probabilities"][5] += 0.05
    path.write_text(json.dumps(data))
    failures = run_selftest(package).failures
    assert len(failures) == 1 and "probability" in failures[0].reason


def test_missing_and_unanswered_images_fail(package: Path) -> None:
    names = images_in(package)
    (package / SELFTEST_DIR / names[0]).unlink()
    shutil.copyfile(package / SELFTEST_DIR / names[1], package / SELFTEST_DIR / "extra.png")
    reasons = {f.image: f.reason for f in run_selftest(package).failures}
    assert reasons == {names[0]: "image missing", "extra.png": "no recorded answer"}


def test_an_unreadable_image_fails_with_its_reason(package: Path) -> None:
    name = images_in(package)[0]
    (package / SELFTEST_DIR / name).write_bytes(b"\x89PNG broken")
    failures = run_selftest(package).failures
    assert failures[0].image == name and "not a photo the fleet can read" in failures[0].reason


@pytest.mark.parametrize("content", [None, "{not json", '{"format": 1, "images": {}}'])
def test_no_or_invalid_answers_cannot_run(package: Path, content: str | None) -> None:
    path = package / SELFTEST_DIR / ANSWERS_NAME
    if content is None:
        path.unlink()
    else:
        path.write_text(content)
    with pytest.raises(PackageError) as info:
        run_selftest(package)
    assert info.value.reason == "selftest_failed" and "\n" not in str(info.value)


def test_a_model_that_does_not_load_cannot_run(package: Path) -> None:
    (package / "model.tflite").write_bytes(b"TFL3 not really")
    with pytest.raises(PackageError) as info:
        run_selftest(package)
    assert info.value.reason == "selftest_failed" and "does not load" in str(info.value)


def test_record_answers_round_trips(package: Path, runtime: str) -> None:
    if runtime != "litert":  # other runtimes check answers (test_the_shipped_selftest_passes_here)
        pytest.skip("answers are recorded with LiteRT, the trainer's runtime; on "
                    f"{runtime} one shipped image leads by less than recording asks")
    before = read_answers(package)
    (package / SELFTEST_DIR / ANSWERS_NAME).unlink()
    after = record_answers(package, runtime=runtime, method=before.method,
                           made_from={n: a.made_from for n, a in before.images.items()
                                      if a.made_from})
    assert after.images.keys() == before.images.keys()
    for name, answer in after.images.items():
        assert answer.label == before.images[name].label
        assert np.allclose(answer.probabilities, before.images[name].probabilities,
                           atol=before.tolerance)
    assert run_selftest(package, runtime=runtime).ok


def test_record_answers_refuses_images_whose_answer_is_not_clear(package: Path) -> None:
    # At a tolerance of 0.1 the best class must lead by 0.2: some of 1.1.0's images do not.
    with pytest.raises(PackageError) as info:
        record_answers(package, tolerance=0.1)
    assert info.value.reason == "selftest_failed" and "apart" in str(info.value)


def test_record_answers_needs_images(package: Path) -> None:
    shutil.rmtree(package / SELFTEST_DIR)
    with pytest.raises(PackageError) as info:
        record_answers(package)
    assert "no images" in str(info.value)
