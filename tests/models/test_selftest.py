"""The self-test maker writes small PNGs that are not copies of photos, and answers that pass.

The shipped self-test is reproducible: made again from the same photos it gives the same
images and the same answers.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agrifleet.inference.selftest import SELFTEST_DIR, images_in, read_answers, run_selftest
from agrifleet.models.selftest import (
    class_median_selftest,
    images_selftest,
    median_image,
    shipped_kind_selftest,
    slug,
)
from agrifleet.models.shipped import default_model_dir
from tests.agrifleet.inference.conftest import leaf_jpeg
from tests.base_model import BASE_MODEL_DIR

pytestmark = pytest.mark.slow  # self-tests run on the shipped model

SHIPPED = default_model_dir()


def _copy(model_dir: Path, tmp_path: Path) -> Path:
    if not (model_dir / "manifest.json").is_file():
        pytest.skip(f"no model in {model_dir}")
    dest = tmp_path / "pkg"
    shutil.copytree(model_dir, dest, ignore=shutil.ignore_patterns("model_float.tflite"))
    return dest


@pytest.fixture
def package(tmp_path: Path) -> Path:
    """A copy of the shipped model."""
    return _copy(SHIPPED, tmp_path)


@pytest.fixture
def base_package(tmp_path: Path) -> Path:
    """A copy of 1.1.0, which names the generated leaves clearly: the shipped model, trained on
    non-leaf images with a uniform target, calls these drawings uncertain, as it should."""
    return _copy(BASE_MODEL_DIR, tmp_path)


def test_given_images_become_a_selftest_that_passes(base_package: Path, tmp_path: Path) -> None:
    package = base_package
    labels = read_answers(package).images
    photos = tmp_path / "photos" / "Tomato___healthy"
    photos.mkdir(parents=True)
    for seed in range(4):
        (photos / f"leaf {seed}.jpg").write_bytes(leaf_jpeg(seed=seed, spots=4 * seed))
    answers = images_selftest(package, sorted(photos.iterdir()))
    assert answers.images and answers.images.keys() != labels.keys()
    assert set(images_in(package)) == set(answers.images)  # the old images are gone
    assert all(a.made_from == "Tomato___healthy" for a in answers.images.values())
    assert all(n.endswith(".png") and " " not in n for n in answers.images)
    assert run_selftest(package).ok


def test_class_medians_from_a_small_photo_folder(base_package: Path, tmp_path: Path) -> None:
    package = base_package
    labels = read_answers(package).images
    data = tmp_path / "photos"
    counts = {"Tomato___healthy": 4, "Apple___healthy": 3, "Grape___healthy": 2}
    for c, (label, count) in enumerate(counts.items()):
        (data / label).mkdir(parents=True)
        for i in range(count):
            (data / label / f"{i}.jpg").write_bytes(leaf_jpeg(seed=10 * c + i, spots=3 * c))
    answers = class_median_selftest(package, data)
    made_from = {a.made_from for a in answers.images.values()}
    assert made_from <= {"Tomato___healthy", "Apple___healthy"} and made_from
    assert answers.images.keys() != labels.keys()
    assert run_selftest(package).ok


def test_a_median_needs_several_photos(tmp_path: Path) -> None:
    for i in range(2):
        (tmp_path / f"{i}.jpg").write_bytes(leaf_jpeg(seed=i))
    with pytest.raises(ValueError, match="copy"):
        median_image(sorted(tmp_path.glob("*.jpg")), 64)


def test_slugs_are_safe_file_names() -> None:
    assert slug("Corn_(maize)___Cercospora_leaf_spot Gray_leaf_spot") == \
        "corn-maize-cercospora-leaf-spot-gray-leaf-spot"
    assert slug("../../etc") == "etc" and slug("???") == "image"


@pytest.mark.data
def test_the_shipped_selftest_is_reproducible(package: Path, shared_data: Path) -> None:
    """Recorded, as the trainer records it, with LiteRT (other runtimes only check answers)."""
    pytest.importorskip("ai_edge_litert")
    shipped = read_answers(SHIPPED)
    made = shipped_kind_selftest(package, shared_data / "plantvillage", runtime="litert")
    assert made.images == shipped.images and made.method == shipped.method
    for name in shipped.images:
        assert (package / SELFTEST_DIR / name).read_bytes() == \
            (SHIPPED / SELFTEST_DIR / name).read_bytes()
