"""The linear probes: a softmax head learns separable features, and leave-one-crop-out
trains without the left-out crop's field rows, so a crop whose field photos look unlike its
lab photos scores lower than one whose field photos look like the lab."""

from __future__ import annotations

import numpy as np

from agrifleet.models.probe import compare_backbones, crop_of, fit_softmax, leave_crop_out

LABELS = ["Apple___healthy", "Apple___scab", "Tomato___healthy", "Tomato___blight"]


def _rows(rng: np.random.Generator, centres: np.ndarray, n: int, shift: float = 0.0
          ) -> tuple[np.ndarray, np.ndarray]:
    y = np.repeat(np.arange(len(centres)), n)
    return centres[y] + shift + rng.normal(0, 0.3, (len(y), centres.shape[1])), y


def test_a_softmax_head_separates_separable_classes() -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 3, (4, 8))
    x, y = _rows(rng, centres, 50)
    head = fit_softmax(x, np.eye(4)[y])
    test_x, test_y = _rows(rng, centres, 20)
    assert np.mean(head.probabilities(test_x).argmax(1) == test_y) > 0.95
    assert np.allclose(head.probabilities(test_x).sum(1), 1.0, atol=1e-5)


def test_leave_crop_out_scores_a_crop_with_unlike_field_photos_lower() -> None:
    rng = np.random.default_rng(1)
    centres = rng.normal(0, 3, (4, 8))
    lab_x, lab_y = _rows(rng, centres, 60)
    # Apple's field photos look like the lab photos of its other class (healthy and scab
    # swapped); Tomato's look like its own lab photos.
    apple = np.isin(lab_y, [0, 1])
    field_x = np.concatenate([centres[1 - lab_y[apple]] + rng.normal(0, 0.3, (120, 8)),
                              lab_x[~apple] + rng.normal(0, 0.3, lab_x[~apple].shape)])
    field_y = np.concatenate([lab_y[apple], lab_y[~apple]])
    train_x = np.concatenate([lab_x, field_x])
    train_y = np.concatenate([lab_y, field_y])
    is_field = np.r_[np.zeros(len(lab_x), bool), np.ones(len(field_x), bool)]
    result = leave_crop_out(train_x, np.eye(4)[train_y], [LABELS[i] for i in train_y],
                            is_field, field_x, field_y, LABELS)
    assert set(result["per_crop"]) == {"Apple", "Tomato"}
    assert result["per_crop"]["Apple"]["photos"] == 120
    assert result["per_crop"]["Tomato"]["top1"] > 0.9
    assert result["per_crop"]["Apple"]["top1"] < 0.1, "never trained on Apple's field rows"
    assert result["per_crop"]["Apple"]["crop_right"] > 0.9
    expected = (result["per_crop"]["Apple"]["top1"] + result["per_crop"]["Tomato"]["top1"]) / 2
    assert abs(result["mean_top1"] - expected) < 1e-3


def test_backbones_are_compared_on_each_set() -> None:
    rng = np.random.default_rng(2)
    centres = rng.normal(0, 3, (4, 8))
    x, y = _rows(rng, centres, 30)
    noise = rng.normal(0, 1, x.shape)
    out = compare_backbones({"good": {"train": x, "field_test": x},
                             "noise": {"train": noise, "field_test": rng.normal(0, 1, x.shape)}},
                            {"train": y, "field_test": y}, 4)
    assert out["good"]["field_test"] > 0.95 > out["noise"]["field_test"]
    assert crop_of("Pepper,_bell___healthy") == "Pepper,_bell"
