"""Evaluation figures (accuracy, F1, calibration error, thresholds) are computed correctly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agrifleet.models.evaluate import (
    PRECISION_TARGET,
    PRECISION_TARGETS,
    choose_operating_point,
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


def test_weighted_field_photos_raise_a_threshold_the_lab_alone_would_keep_low() -> None:
    # 100 lab photos called A at 0.6, all right; field photos called A: 3 wrong at 0.6, 7 right
    # at 0.85. Pooled, A is 97.3 % precise from 0.35 on; with each field photo counted ten
    # times, only above 0.6 is it precise enough.
    confidence = np.r_[np.full(100, 0.6), np.full(3, 0.6), np.full(7, 0.85)]
    probs = np.zeros((110, 3))
    probs[:, 0] = confidence
    truth = np.r_[np.zeros(100, int), np.ones(3, int), np.zeros(7, int)]
    is_lab = np.r_[np.ones(100, bool), np.zeros(10, bool)]
    plain = choose_operating_point(probs, truth, LABELS, is_lab)
    weighted = choose_operating_point(probs, truth, LABELS, is_lab, field_weight=10.0)
    assert plain.thresholds["A___healthy"] == 0.35
    assert weighted.thresholds["A___healthy"] == 0.65


def test_rarely_predicted_class_keeps_the_default() -> None:
    probs = np.eye(3)[[0, 0, 0, 0, 0, 0]]
    t = choose_thresholds(probs, np.zeros(6, int), LABELS)
    assert t["B___blight"] == 0.5 and t["A___healthy"] == 0.35


def _graded(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Predictions whose confidence says how often they are right."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, n)
    confidence = rng.uniform(0.34, 1.0, n)
    pred = np.where(rng.uniform(0, 1, n) < confidence ** 0.2, truth, (truth + 1) % 3)
    probs = np.full((n, 3), 0.0)
    probs[np.arange(n), pred] = confidence
    return probs, truth


def test_operating_point_is_the_strictest_target_that_answers_enough_lab_photos() -> None:
    probs, truth = _graded(600, 1)
    lab = np.ones(600, bool)

    def answered(target: float) -> float:
        t = choose_thresholds(probs, truth, LABELS, target_precision=target)
        return evaluate(probs, truth, LABELS, t).covered

    wanted = answered(0.95)
    assert answered(0.99) < wanted < answered(0.9)  # the data leaves a choice to make
    point = choose_operating_point(probs, truth, LABELS, lab, coverage=wanted)
    assert point.target_precision >= 0.95 and point.lab_coverage >= wanted
    assert point.thresholds == choose_thresholds(probs, truth, LABELS, point.target_precision)
    for target in PRECISION_TARGETS:  # every stricter target answers too few
        if target > point.target_precision:
            assert answered(target) < wanted
    assert f"{point.target_precision:.1%} precision" in point.rule


def test_without_a_coverage_the_thresholds_use_the_fixed_target() -> None:
    probs, truth = _graded(600, 3)
    point = choose_operating_point(probs, truth, LABELS, np.ones(600, bool))
    assert point.target_precision == PRECISION_TARGET == 0.97 and point.coverage is None
    assert point.thresholds == choose_thresholds(probs, truth, LABELS)
    assert point.lab_coverage == evaluate(probs, truth, LABELS, point.thresholds).covered
    assert "97.0% precision" in point.rule and "strictest" not in point.rule


def test_only_lab_photos_count_for_the_coverage() -> None:
    probs, truth = _graded(400, 2)
    doubtful = np.tile([[0.34, 0.33, 0.33]], (400, 1))  # field photos it never answers
    both = np.vstack([probs, doubtful])
    lab = np.arange(800) < 400
    t = choose_thresholds(probs, truth, LABELS, target_precision=0.95)
    wanted = evaluate(probs, truth, LABELS, t).covered
    with_field = choose_operating_point(both, np.concatenate([truth, truth]), LABELS, lab, wanted)
    assert with_field.target_precision >= 0.95  # half of all photos unanswered does not matter
    assert with_field.lab_coverage >= wanted


def test_a_coverage_no_target_reaches_falls_back_to_the_loosest() -> None:
    probs = np.tile([[0.34, 0.33, 0.33]], (50, 1))  # never sure of anything
    point = choose_operating_point(probs, np.zeros(50, int), LABELS, np.ones(50, bool), 0.95)
    assert point.target_precision == PRECISION_TARGETS[-1] == 0.9
    assert point.lab_coverage < 0.95


def test_confusion_png_is_written(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    e = evaluate(np.eye(3)[[0, 1, 2]], np.array([0, 1, 1]), LABELS)
    assert confusion_png(e, LABELS, tmp_path / "c.png", "test")
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
