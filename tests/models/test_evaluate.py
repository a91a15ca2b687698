"""Evaluation figures (accuracy, F1, calibration error, thresholds) are computed correctly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.evaluate import (
    choose_thresholds,
    confusion_png,
    evaluate,
    expected_calibration_error,
)

LABELS = ["A___healthy", "A___rust", "B___blight"]


def test_perfect_confident_predictions() -> None:
    probs = np.eye(3)[[0, 1, 2, 2]]
    e = evaluate(probs, np.array([0, 1, 2, 2]), LABELS)
    assert e.top1 == 1.0 and e.macro_f1 == 1.0 and e.ece == 0.0
    assert e.confusion == [[1, 0, 0], [0, 1, 0], [0, 0, 2]]


def test_per_class_precision_recall_and_macro_f1() -> None:
    probs = np.eye(3)[[0, 0, 1, 2]]  # the second photo (class 1) is called class 0
    e = evaluate(probs, np.array([0, 1, 1, 2]), LABELS)
    assert e.top1 == 0.75
    assert e.per_class["A___healthy"]["precision"] == 0.5
    assert e.per_class["A___rust"]["recall"] == 0.5
    expected_f1 = np.mean([2 * 0.5 * 1 / 1.5, 2 * 1 * 0.5 / 1.5, 1.0])
    assert e.macro_f1 == pytest.approx(expected_f1)


def test_ece_of_an_overconfident_model() -> None:
    probs = np.array([[0.9, 0.1, 0.0]] * 10)  # 90 % sure, right half the time
    truth = np.array([0] * 5 + [1] * 5)
    assert expected_calibration_error(probs, truth) == pytest.approx(0.4)


def test_thresholds_reach_the_target_precision_on_validation() -> None:
    rng = np.random.default_rng(0)
    n = 400
    truth = rng.integers(0, 3, n)
    confidence = rng.uniform(0.34, 1.0, n)
    correct = rng.uniform(0, 1, n) < confidence  # higher confidence, more often right
    pred = np.where(correct, truth, (truth + 1) % 3)
    probs = np.zeros((n, 3))
    probs[np.arange(n), pred] = confidence
    t = choose_thresholds(probs, truth, LABELS, target_precision=0.9)
    for c, label in enumerate(LABELS):
        keep = (pred == c) & (confidence >= t[label])
        assert (truth[keep] == c).mean() >= 0.9 or t[label] == 0.9
    assert all(0.35 <= v <= 0.9 for v in t.values())


def test_rarely_predicted_class_keeps_the_default() -> None:
    probs = np.eye(3)[[0, 0, 0, 0, 0, 0]]
    t = choose_thresholds(probs, np.zeros(6, int), LABELS)
    assert t["B___blight"] == 0.5 and t["A___healthy"] == 0.35


def test_confusion_png_is_written(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    e = evaluate(np.eye(3)[[0, 1, 2]], np.array([0, 1, 1]), LABELS)
    assert confusion_png(e, LABELS, tmp_path / "c.png", "test")
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
