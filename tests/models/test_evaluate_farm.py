"""The figures a farm sees (disease right whatever the crop, crop right, healthy or not, answered
and confidently wrong) are computed correctly from known probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from agrifleet.models.evaluate import (
    farm_figures,
    healthy_vs_diseased,
    part_figures,
    risk_coverage,
    selective,
)

LABELS = ["Potato___Late_blight", "Potato___healthy", "Tomato___Late_blight",
          "Tomato___Leaf_Mold", "Tomato___healthy"]
THRESHOLDS = dict.fromkeys(LABELS, 0.6)

# Four photos, each row a probability vector over LABELS.
PROBS = np.array([
    [0.70, 0.10, 0.10, 0.05, 0.05],  # potato late blight, right, answered
    [0.05, 0.05, 0.50, 0.30, 0.10],  # true potato late blight: wrong crop, disease 0.55
    [0.10, 0.10, 0.05, 0.05, 0.70],  # true tomato leaf mold: confidently wrong (healthy)
    [0.05, 0.40, 0.05, 0.10, 0.40],  # true potato healthy: tie, argmax first = potato healthy
])
TRUTH = np.array([0, 0, 3, 1])


def test_label_coverage_and_confidently_wrong_by_hand() -> None:
    s = selective(PROBS, TRUTH, LABELS, THRESHOLDS)
    # answered: photos 0 and 2 (0.70 >= 0.6); right: 0, 3; answered and wrong: photo 2.
    assert s == {"coverage": 0.5, "selective_accuracy": 0.5, "confidently_wrong": 0.25,
                 "count": 4}


def test_without_thresholds_every_answer_counts_and_wrong_ones_are_confidently_wrong() -> None:
    s = selective(PROBS, TRUTH, LABELS)
    assert s["coverage"] == 1.0 and s["confidently_wrong"] == 0.5


def test_disease_right_whatever_the_crop() -> None:
    d = part_figures(PROBS, TRUTH, LABELS, "disease", THRESHOLDS)
    # Disease sums: photo 0 late blight 0.80; photo 1 late blight 0.55 (right disease, wrong
    # crop); photo 2 healthy 0.80 (wrong); photo 3 healthy 0.80 (right).
    assert d["top1"] == 0.75
    # answered (>= 0.6): photos 0, 2, 3; photo 2 is wrong.
    assert d["coverage"] == 0.75 and d["confidently_wrong"] == 0.25
    assert d["selective_accuracy"] == pytest.approx(0.6667, abs=1e-4)


def test_crop_right_whatever_the_disease() -> None:
    c = part_figures(PROBS, TRUTH, LABELS, "crop", THRESHOLDS)
    # Crop sums (potato, tomato): 0.80/0.20, 0.10/0.90, 0.20/0.80, 0.45/0.55.
    # Right: photo 0 and 2; photo 1 and 3 wrong. Answered: 0, 1, 2 (0.55 < 0.6).
    assert c["top1"] == 0.5 and c["coverage"] == 0.75 and c["confidently_wrong"] == 0.25


def test_a_given_part_threshold_replaces_the_derived_one() -> None:
    d = part_figures(PROBS, TRUTH, LABELS, "disease", THRESHOLDS, override=0.5)
    assert d["coverage"] == 1.0 and d["confidently_wrong"] == 0.25


def test_healthy_versus_diseased() -> None:
    h = healthy_vs_diseased(PROBS, TRUTH, LABELS)
    # healthy sums: 0.15, 0.15, 0.80, 0.80 -> said healthy for photos 2 and 3.
    assert h == {"accuracy": 0.75, "healthy_called_healthy": 1.0,
                 "diseased_called_diseased": pytest.approx(0.6667, abs=1e-4),
                 "healthy": 1, "diseased": 3}


def test_farm_figures_hold_all_parts() -> None:
    f = farm_figures(PROBS, TRUTH, LABELS, THRESHOLDS)
    assert set(f) == {"label", "risk_coverage", "disease", "crop", "healthy_vs_diseased"}
    assert f["label"]["confidently_wrong"] == 0.25


def test_risk_coverage_with_one_threshold_for_all_classes() -> None:
    rows = {r["threshold"]: r for r in risk_coverage(PROBS, TRUTH, (0.0, 0.45, 0.75))}
    assert rows[0.0] == {"threshold": 0.0, "coverage": 1.0, "confidently_wrong": 0.5,
                         "selective_accuracy": 0.5}
    # >= 0.45: photos 0 (right), 1 (0.50, wrong), 2 (0.70, wrong); photo 3 (0.40) not.
    assert rows[0.45]["coverage"] == 0.75 and rows[0.45]["confidently_wrong"] == 0.5
    assert rows[0.75] == {"threshold": 0.75, "coverage": 0.0, "confidently_wrong": 0.0,
                          "selective_accuracy": None}


def test_no_healthy_photos_gives_no_healthy_figure_rather_than_zero() -> None:
    h = healthy_vs_diseased(PROBS[:3], TRUTH[:3], LABELS)
    assert h["healthy"] == 0 and h["healthy_called_healthy"] is None


def test_the_risk_coverage_curve_prints_one_line_per_threshold() -> None:
    from agrifleet.models.evaluate import format_risk_coverage

    rows: list[dict[str, float | None]] = [
            {"threshold": 0.5, "coverage": 0.75, "selective_accuracy": 1.0,
             "confidently_wrong": 0.0},
            {"threshold": 0.9, "coverage": 0.0, "selective_accuracy": None,
             "confidently_wrong": 0.0}]
    text = format_risk_coverage("field test", rows).splitlines()
    assert text[1] == "  >= 0.50   75.0%  100.0%    0.0%"
    assert text[2] == "  >= 0.90    0.0%     n/a    0.0%"
