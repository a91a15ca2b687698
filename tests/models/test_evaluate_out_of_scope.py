"""Out-of-scope images are generated deterministically, backgrounds skip foliage, and the rate of
answers a model gives them is counted correctly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from agrifleet.models.out_of_scope import (
    KINDS,
    background_set,
    green_share,
    out_of_scope_figures,
    synthetic,
    synthetic_set,
    to_model,
)


def test_the_same_seed_gives_the_same_images_and_another_seed_others() -> None:
    a, b, c = synthetic_set(3, seed=7, side=64), synthetic_set(3, seed=7, side=64), \
        synthetic_set(3, seed=8, side=64)
    assert [k for k, _ in a] == [k for k in KINDS for _ in range(3)]
    assert all(np.array_equal(x, y) for (_, x), (_, y) in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for (_, x), (_, y) in zip(a, c, strict=True))
    assert all(img.shape == (64, 64, 3) and img.dtype == np.uint8 for _, img in a)


def test_each_kind_looks_like_its_name() -> None:
    rng = np.random.default_rng(0)
    flat = synthetic("flat", rng, 64)
    assert (flat == flat[0, 0]).all()
    noise = synthetic("noise", rng, 64)
    assert noise.std() > 50
    for kind in ("stripes", "checkerboard"):
        img = synthetic(kind, rng, 64)
        assert len(np.unique(img.reshape(-1, 3), axis=0)) <= 2
    grad = synthetic("gradient", rng, 64).astype(int)
    assert len(np.unique(grad.reshape(-1, 3), axis=0)) > 10
    with pytest.raises(ValueError, match="unknown kind"):
        synthetic("leaf", rng, 64)


def test_background_corners_with_foliage_are_skipped(tmp_path: Path) -> None:
    img = np.full((120, 180, 3), (120, 100, 80), np.uint8)  # soil-coloured
    img[:40, :40] = (40, 150, 40)  # a leaf in the top-left corner
    img[:40, 140:] = (200, 60, 60)  # the other corners tell themselves apart by colour
    img[80:, :40] = (60, 60, 200)
    path = tmp_path / "field.png"
    Image.fromarray(img).save(path)
    assert green_share(img[:40, :40]) == 1.0 and green_share(img[80:, 140:]) == 0.0
    crops = background_set([path], limit=10)
    assert len(crops) == 3 and all(k == "field_background" for k, _ in crops)
    assert all(c.shape == (40, 40, 3) for _, c in crops)
    def reds(seed: int) -> list[int]:
        return [int(c[0, 0, 0]) for _, c in background_set([path], limit=2, seed=seed)]

    assert reds(1) == reds(1) and len(reds(1)) == 2
    assert len({tuple(reds(s)) for s in range(6)}) > 1  # the seed picks which corners
    assert to_model(crops, 32).shape == (3, 32, 32, 3)


def test_rate_of_answers_by_hand() -> None:
    labels = ["A___healthy", "A___rust", "B___blight"]
    probs = np.array([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.4, 0.3, 0.3], [0.2, 0.2, 0.6]])
    kinds = ["noise", "noise", "flat", "flat"]
    f = out_of_scope_figures(probs, kinds, labels, dict.fromkeys(labels, 0.5))
    # answered: photos 0 (healthy), 1 (rust) and 3 (blight); photo 2 is uncertain.
    assert f["answered"] == 0.75 and f["answered_as_disease"] == 0.5 and f["count"] == 4
    assert f["disease_answered"] == 0.75  # the disease sums equal the classes here
    assert [m["label"] for m in f["most_answered"]] == ["A___healthy", "A___rust", "B___blight"]
    assert f["per_kind"] == {"noise": {"answered": 1.0, "count": 2},
                             "flat": {"answered": 0.5, "count": 2}}
