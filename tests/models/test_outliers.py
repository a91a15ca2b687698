"""The outlier-exposure images are no leaf, varied, the same for the same seed, and kept apart
from the out-of-scope evaluation set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from agrifleet.models import out_of_scope
from agrifleet.models.outliers import KINDS, outlier, outlier_bank


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_is_an_image_of_the_asked_size(kind: str) -> None:
    img = outlier(kind, np.random.default_rng(3), 96)
    assert img.shape == (96, 96, 3) and img.dtype == np.uint8


def test_unknown_kind_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="unknown outlier kind 'leaf'"):
        outlier("leaf", np.random.default_rng(0), 32)


def test_bank_cycles_through_the_kinds_and_repeats_for_the_same_seed() -> None:
    a = outlier_bank(2 * len(KINDS), 64, seed=5)
    assert a.shape == (2 * len(KINDS), 64, 64, 3)
    assert np.array_equal(a, outlier_bank(2 * len(KINDS), 64, seed=5))
    assert not np.array_equal(a, outlier_bank(2 * len(KINDS), 64, seed=6))
    # No two images alike: the bank is varied, not one picture repeated.
    flat = a.reshape(len(a), -1).astype(np.int32)
    assert len({row.tobytes() for row in flat}) == len(a)


def test_field_photos_give_background_corners_with_little_foliage(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (300, 300, 3), dtype=np.uint8)
    photo[..., 1] = photo[..., 1] // 4  # reddish noise: no foliage anywhere
    path = tmp_path / "field.jpg"
    Image.fromarray(photo).save(path)
    bank = outlier_bank(8, 48, seed=1, field_photos=[path])
    assert bank.shape == (8, 48, 48, 3)
    corners = out_of_scope.background_set([path], 2, 1)
    assert len(corners) == 2  # a quarter of 8, taken from the photo's corners
    first = np.asarray(Image.fromarray(corners[0][1]).resize((48, 48), Image.Resampling.BILINEAR))
    assert np.array_equal(bank[0], first)


def test_training_kinds_leave_held_out_evaluation_kinds_unseen() -> None:
    # The evaluation's checkerboards are never trained on, so the card can report them as
    # out-of-scope images of a kind the model never saw.
    assert "checkerboard" in out_of_scope.KINDS
    assert "checkerboard" not in KINDS
