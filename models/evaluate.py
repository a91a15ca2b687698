"""Evaluate a .tflite file itself on labelled photos: accuracy, F1, calibration, confusion matrix.

Besides the class figures, :func:`farm_figures` gives what a farm sees: the disease right
whatever the crop, the crop right, healthy versus diseased, and how often an answer above the
thresholds is given (coverage) and is wrong ("confidently wrong", as a share of all photos).

Runs wherever the edge extra is installed (the LiteRT interpreter, numpy, Pillow); the confusion
matrix picture also needs matplotlib (the train extra) and is skipped without it.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agrifleet.inference.parts import HEALTHY, PartName, disease_name, grouping, part_thresholds
from agrifleet.inference.preprocess import to_input
from agrifleet.inference.runtime import load_interpreter

log = logging.getLogger(__name__)

ECE_BINS = 15


class TFLiteModel:
    """A .tflite classifier run on batches of uint8 pixels; returns class probabilities."""

    def __init__(self, path: Path, threads: int = 2, runtime: str | None = None):
        self.path = path
        self._interpreter = load_interpreter(path, threads, runtime)
        self.input = self._interpreter.get_input_details()[0]
        self.output = self._interpreter.get_output_details()[0]
        self.size = int(self.input["shape"][1])
        self.num_classes = int(self.output["shape"][-1])

    def predict(self, pixels: np.ndarray) -> np.ndarray:
        """Probabilities (N, classes) for uint8 pixels (N, size, size, 3)."""
        scale, zero = self.input.get("quantization", (0.0, 0))
        out_scale, out_zero = self.output.get("quantization", (0.0, 0))
        probs = np.empty((len(pixels), self.num_classes), np.float32)
        for i, img in enumerate(pixels):
            self._interpreter.set_tensor(
                self.input["index"], to_input(img[None], self.input["dtype"], scale, zero)
            )
            self._interpreter.invoke()
            raw = self._interpreter.get_tensor(self.output["index"])[0].astype(np.float32)
            probs[i] = raw if out_scale == 0 else (raw - out_zero) * out_scale
        return probs


@dataclass
class Evaluation:
    """Figures for one model on one set of photos."""

    top1: float
    macro_f1: float
    ece: float
    count: int
    per_class: dict[str, dict[str, float]]
    confusion: list[list[int]]
    covered: float
    covered_accuracy: float

    def summary(self) -> dict[str, float]:
        """The headline figures, rounded, for manifests and printing."""
        return {
            "top1": round(self.top1, 4),
            "macro_f1": round(self.macro_f1, 4),
            "ece": round(self.ece, 4),
            "count": self.count,
            "covered": round(self.covered, 4),
            "covered_accuracy": round(self.covered_accuracy, 4),
        }


def expected_calibration_error(probs: np.ndarray, truth: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE: |accuracy - confidence| per confidence bin, weighted by the bin's share."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == truth
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for lo, hi in itertools.pairwise(edges):
        inside = (confidence > lo) & (confidence <= hi)
        if inside.any():
            ece += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(ece)


def evaluate(
    probs: np.ndarray, truth: np.ndarray, labels: Sequence[str],
    thresholds: dict[str, float] | None = None,
) -> Evaluation:
    """All figures for predicted probabilities against true class indices."""
    n = len(labels)
    pred = probs.argmax(axis=1)
    confusion = np.zeros((n, n), np.int64)
    np.add.at(confusion, (truth, pred), 1)
    per_class: dict[str, dict[str, float]] = {}
    f1s = []
    for c, label in enumerate(labels):
        tp = confusion[c, c]
        support = int(confusion[c].sum())
        predicted = int(confusion[:, c].sum())
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        if support:
            f1s.append(f1)
        per_class[label] = {"precision": round(float(precision), 4),
                            "recall": round(float(recall), 4),
                            "f1": round(float(f1), 4), "support": support}
    limits = np.array([(thresholds or {}).get(lb, 0.0) for lb in labels])
    sure = probs.max(axis=1) >= limits[pred]
    return Evaluation(
        top1=float((pred == truth).mean()) if len(truth) else 0.0,
        macro_f1=float(np.mean(f1s)) if f1s else 0.0,
        ece=expected_calibration_error(probs, truth) if len(truth) else 0.0,
        count=len(truth),
        per_class=per_class,
        confusion=confusion.tolist(),
        covered=float(sure.mean()) if len(truth) else 0.0,
        covered_accuracy=float((pred[sure] == truth[sure]).mean()) if sure.any() else 0.0,
    )


#: The precision target of the shipped thresholds (see docs/models.md, "Thresholds").
PRECISION_TARGET = 0.97


def choose_thresholds(
    probs: np.ndarray, truth: np.ndarray, labels: Sequence[str],
    target_precision: float = PRECISION_TARGET, floor: float = 0.35, ceiling: float = 0.9,
    default: float = 0.5, weights: np.ndarray | None = None,
) -> dict[str, float]:
    """Per class, the lowest confidence at which its predictions reach ``target_precision``.

    Chosen on validation photos, each counted with its ``weight`` (default 1) in the precision.
    A class never predicted there keeps ``default``; one that never reaches the target gets
    ``ceiling``.
    """
    w = np.ones(len(truth)) if weights is None else np.asarray(weights, dtype=float)
    pred = probs.argmax(axis=1)
    confidence = probs.max(axis=1)
    grid = np.round(np.arange(floor, ceiling + 1e-9, 0.05), 2)
    chosen: dict[str, float] = {}
    for c, label in enumerate(labels):
        mine = pred == c
        if mine.sum() < 5:
            chosen[label] = default
            continue
        chosen[label] = float(ceiling)
        for t in grid:
            keep = mine & (confidence >= t)
            if keep.any() and w[keep & (truth == c)].sum() / w[keep].sum() >= target_precision:
                chosen[label] = float(t)
                break
    return chosen


#: Precision targets tried when the thresholds must answer a given share of lab photos.
PRECISION_TARGETS: tuple[float, ...] = tuple(round(0.99 - 0.005 * i, 3) for i in range(19))


@dataclass(frozen=True)
class OperatingPoint:
    """The per-class thresholds a model ships with, and how they were chosen."""

    thresholds: dict[str, float]
    target_precision: float
    lab_coverage: float
    #: The share of lab validation photos asked for, or None for the fixed target.
    coverage: float | None = None
    #: How many times each field validation photo counts in the precision.
    field_weight: float = 1.0

    @property
    def rule(self) -> str:
        weighted = (f", each field photo counted {self.field_weight:g} times"
                    if self.field_weight != 1.0 else "")
        rule = (f"per class, the lowest confidence reaching {self.target_precision:.1%} "
                f"precision on validation{weighted}, within [0.35, 0.90] (0.5 for classes "
                "rarely predicted)")
        if self.coverage is None:
            return f"{rule}; lab validation photos answered {self.lab_coverage:.1%}"
        return (f"{rule}; the precision target is the strictest of 99 %, 98.5 %, ... 90 % at "
                f"which at least {self.coverage:.1%} of the lab validation photos are answered "
                f"({self.lab_coverage:.1%})")


def choose_operating_point(
    probs: np.ndarray, truth: np.ndarray, labels: Sequence[str], lab: np.ndarray,
    coverage: float | None = None, field_weight: float = 1.0,
) -> OperatingPoint:
    """Per-class thresholds at :data:`PRECISION_TARGET`, or, given ``coverage``, at the
    strictest precision target that still answers that share of the lab validation photos
    (``lab`` marks them among ``probs``).

    A looser target answers more clear lab photos, and more field photos of crops the model
    never saw in a field, most of those wrongly (measured on the leave-field-out model: see
    docs/models.md), so the shipped default is the fixed target. When even 90 % does not reach
    ``coverage``, 90 % is used.

    ``field_weight`` counts each field photo (not ``lab``) that many times in the precision, so
    a few hundred field validation photos weigh against thousands of lab ones.
    """
    lab = np.asarray(lab, dtype=bool)
    weights = np.where(lab, 1.0, field_weight)
    point = None
    for target in (PRECISION_TARGET,) if coverage is None else PRECISION_TARGETS:
        thresholds = choose_thresholds(probs, truth, labels, target_precision=target,
                                       weights=weights)
        answered = evaluate(probs[lab], truth[lab], labels, thresholds).covered
        point = OperatingPoint(thresholds, target, answered, coverage, field_weight)
        if coverage is None or answered >= coverage:
            break
    assert point is not None
    return point


def confusion_png(evaluation: Evaluation, labels: Sequence[str], path: Path, title: str) -> bool:
    """Draw the confusion matrix (row-normalised) to ``path``; False if matplotlib is absent."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ModuleNotFoundError:
        log.warning("matplotlib is not installed; skipping %s", path.name)
        return False
    matrix = np.array(evaluation.confusion, dtype=np.float64)
    rows = matrix.sum(axis=1, keepdims=True)
    norm = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
    short = [lb.replace("___", ": ").replace("_", " ")[:34] for lb in labels]
    fig, ax = plt.subplots(figsize=(13, 11.5))
    im = ax.imshow(norm, cmap="Greens", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), short, rotation=90, fontsize=7)
    ax.set_yticks(range(len(labels)), short, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{title}: top-1 {evaluation.top1:.1%} on {evaluation.count} photos")
    for i, j in zip(*np.nonzero(matrix), strict=True):
        ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center", fontsize=5,
                color="white" if norm[i, j] > 0.5 else "black")
    fig.colorbar(im, fraction=0.04)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def format_summary(name: str, e: Evaluation) -> str:
    """One line of headline figures."""
    return (f"{name}: top-1 {e.top1:.2%}  macro-F1 {e.macro_f1:.3f}  ECE {e.ece:.3f}  "
            f"n={e.count}  above-threshold {e.covered:.1%} at {e.covered_accuracy:.2%}")


def per_class_table(e: Evaluation) -> str:
    """Per-class precision/recall as aligned text."""
    lines = [f"{'class':<52} {'prec':>6} {'recall':>6} {'n':>5}"]
    for label, m in e.per_class.items():
        if m["support"] or m["precision"]:
            lines.append(f"{label:<52} {m['precision']:>6.3f} {m['recall']:>6.3f} "
                         f"{int(m['support']):>5}")
    return "\n".join(lines)


def report_dict(e: Evaluation) -> dict[str, Any]:
    """Everything about one evaluation, JSON-ready."""
    return {**e.summary(), "per_class": e.per_class, "confusion": e.confusion}


#: Confidences at which :func:`risk_coverage` shows coverage and confidently wrong.
CURVE_THRESHOLDS = (0.0, 0.35, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


def _share(mask: np.ndarray) -> float | None:
    """The share of True, rounded; None for no photos at all (not 0 %, which would be a claim)."""
    return round(float(mask.mean()), 4) if mask.size else None


def risk_coverage(
    probs: np.ndarray, truth: np.ndarray, cutoffs: Sequence[float] = CURVE_THRESHOLDS
) -> list[dict[str, float | None]]:
    """Coverage and confidently wrong if one confidence threshold applied to every class:
    the trade-off to choose thresholds from."""
    confidence = probs.max(axis=1)
    right = probs.argmax(axis=1) == truth
    rows: list[dict[str, float | None]] = []
    for t in cutoffs:
        answered = confidence >= t
        rows.append({"threshold": t, "coverage": _share(answered),
                     "confidently_wrong": _share(answered & ~right),
                     "selective_accuracy": _share(right[answered])})
    return rows


def selective(
    probs: np.ndarray, truth: np.ndarray, labels: Sequence[str],
    thresholds: dict[str, float] | None = None,
) -> dict[str, float | None]:
    """Coverage (share answered above the class threshold), accuracy of those answers, and
    confidently wrong: answered and wrong, as a share of *all* photos."""
    pred = probs.argmax(axis=1)
    limits = np.array([(thresholds or {}).get(lb, 0.0) for lb in labels])
    answered = probs.max(axis=1) >= limits[pred]
    right = pred == truth
    return {
        "coverage": _share(answered),
        "selective_accuracy": _share(right[answered]),
        "confidently_wrong": _share(answered & ~right),
        "count": len(truth),
    }


def part_figures(
    probs: np.ndarray, truth: np.ndarray, labels: Sequence[str], part: PartName,
    thresholds: dict[str, float] | None = None, override: float | None = None,
) -> dict[str, float | None]:
    """Top-1, coverage and confidently wrong of the crop or the disease alone.

    The part's answer is the value whose classes' probabilities add up to the most, as the
    classifier's ``Prediction.crop`` / ``.disease`` say it.
    """
    group = grouping(labels, part)
    sums = group.sums(probs)
    pred = sums.argmax(axis=1)
    want = group.index[truth]
    limits = part_thresholds(group, labels, thresholds or {}, override)
    answered = sums.max(axis=1) >= limits[pred]
    right = pred == want
    return {
        "top1": _share(right),
        "coverage": _share(answered),
        "selective_accuracy": _share(right[answered]),
        "confidently_wrong": _share(answered & ~right),
        "count": len(truth),
    }


def healthy_vs_diseased(
    probs: np.ndarray, truth: np.ndarray, labels: Sequence[str]
) -> dict[str, float | None]:
    """Healthy or not, whatever crop and disease: called healthy when the healthy classes'
    probabilities add up to at least one half."""
    healthy = np.array([disease_name(lb) == HEALTHY for lb in labels])
    said = probs[:, healthy].sum(axis=1) >= 0.5
    is_healthy = healthy[truth]
    return {
        "accuracy": _share(said == is_healthy),
        "healthy_called_healthy": _share(said[is_healthy]),
        "diseased_called_diseased": _share(~said[~is_healthy]),
        "healthy": int(is_healthy.sum()),
        "diseased": int((~is_healthy).sum()),
    }


def farm_figures(
    probs: np.ndarray, truth: np.ndarray, labels: Sequence[str],
    thresholds: dict[str, float] | None = None,
    crop_threshold: float | None = None, disease_threshold: float | None = None,
) -> dict[str, Any]:
    """Selective figures of the class label, of the disease and of the crop alone, and
    healthy-versus-diseased: the figures that predict what a farm is told."""
    return {
        "label": selective(probs, truth, labels, thresholds),
        "risk_coverage": risk_coverage(probs, truth),
        "disease": part_figures(probs, truth, labels, "disease", thresholds, disease_threshold),
        "crop": part_figures(probs, truth, labels, "crop", thresholds, crop_threshold),
        "healthy_vs_diseased": healthy_vs_diseased(probs, truth, labels),
    }


def format_farm(name: str, f: dict[str, Any]) -> str:
    """The farm figures of one photo set as three lines of text."""
    lb, d, c, h = f["label"], f["disease"], f["crop"], f["healthy_vs_diseased"]

    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.1%}"

    return (f"{name}: label answered {pct(lb['coverage'])}, confidently wrong "
            f"{pct(lb['confidently_wrong'])}\n"
            f"  disease top-1 {pct(d['top1'])} (answered {pct(d['coverage'])}, confidently "
            f"wrong {pct(d['confidently_wrong'])}); crop top-1 {pct(c['top1'])} (answered "
            f"{pct(c['coverage'])}, confidently wrong {pct(c['confidently_wrong'])})\n"
            f"  healthy vs diseased {pct(h['accuracy'])} ({h['healthy']} healthy, "
            f"{h['diseased']} diseased)")


def format_risk_coverage(name: str, rows: Sequence[dict[str, float | None]]) -> str:
    """Selective accuracy against coverage, one threshold per line."""

    def pct(x: float | None) -> str:
        return "    n/a" if x is None else f"{x:>7.1%}"

    lines = [f"{name}: one threshold for every class: answered, right when answered, "
             "confidently wrong"]
    lines += [f"  >= {r['threshold']:.2f} {pct(r['coverage'])} {pct(r['selective_accuracy'])} "
              f"{pct(r['confidently_wrong'])}" for r in rows]
    return "\n".join(lines)
