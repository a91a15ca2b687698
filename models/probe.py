"""Linear probes on frozen features: cheap questions answered without fine-tuning.

Two uses, both on features a float TFLite model computes once:

- **leave-one-crop-out** (:func:`leave_crop_out`): for each crop with field photos, a softmax
  head trained on everything *but* that crop's field photos and leaf crops, then evaluated on
  all of that crop's field photos. It estimates what a crop never photographed in a field
  gets, which is what a farm growing another crop will see;
- **backbone comparison** (:func:`compare_backbones`): the same head on each candidate
  backbone's pooled features, scored on the field validation and test photos.

The head is multinomial logistic regression with L2, trained full-batch with Adam in numpy
(seconds for tens of thousands of 1,280-wide rows), on standardised features.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class SoftmaxHead:
    """A fitted linear classifier on standardised features."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: np.ndarray

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        z = ((x - self.mean) / self.scale) @ self.weights + self.bias
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)


def fit_softmax(x: np.ndarray, targets: np.ndarray, l2: float = 1e-3, steps: int = 300,
                learning_rate: float = 0.01, sample_weight: np.ndarray | None = None,
                seed: int = 0) -> SoftmaxHead:
    """Fit weights (features × classes) to soft ``targets`` (rows sum to 1) by Adam."""
    x = x.astype(np.float32)
    mean = x.mean(axis=0)
    scale = x.std(axis=0) + 1e-6
    xs = (x - mean) / scale
    n, d = xs.shape
    k = targets.shape[1]
    rng = np.random.default_rng(seed)
    w = rng.normal(0, 0.01, (d, k)).astype(np.float32)
    b = np.zeros(k, np.float32)
    sw = (np.ones(n, np.float32) if sample_weight is None
          else sample_weight.astype(np.float32)) / n
    m_w, v_w, m_b, v_b = (np.zeros_like(w), np.zeros_like(w), np.zeros_like(b),
                          np.zeros_like(b))
    for t in range(1, steps + 1):
        z = xs @ w + b
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        g = (p - targets) * sw[:, None]
        g_w = xs.T @ g + l2 * w
        g_b = g.sum(axis=0)
        for param, grad, m, v in ((w, g_w, m_w, v_w), (b, g_b, m_b, v_b)):
            m *= 0.9
            m += 0.1 * grad
            v *= 0.999
            v += 0.001 * grad * grad
            param -= learning_rate * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
    return SoftmaxHead(mean, scale, w, b)


def crop_of(label: str) -> str:
    """The crop of a PlantVillage class name (``Tomato___Late_blight`` → ``Tomato``)."""
    return label.split("___")[0]


def leave_crop_out(
    train_x: np.ndarray, train_t: np.ndarray, train_label: Sequence[str | None],
    train_is_field: np.ndarray, field_x: np.ndarray, field_y: np.ndarray,
    labels: Sequence[str], **fit: Any,
) -> dict[str, Any]:
    """For each crop with field photos: a head trained without that crop's field rows, its
    top-1 on ``field_x`` rows of that crop. ``train_label`` is None for outlier rows."""
    crops = sorted({crop_of(labels[i]) for i in field_y})
    per_crop: dict[str, Any] = {}
    for crop in crops:
        keep = np.array([not (f and lb is not None and crop_of(lb) == crop)
                         for lb, f in zip(train_label, train_is_field, strict=True)])
        head = fit_softmax(train_x[keep], train_t[keep], **fit)
        mine = np.array([crop_of(labels[i]) == crop for i in field_y])
        probs = head.probabilities(field_x[mine])
        top1 = float(np.mean(probs.argmax(1) == field_y[mine]))
        crop_right = float(np.mean([crop_of(labels[j]) == crop for j in probs.argmax(1)]))
        per_crop[crop] = {"photos": int(mine.sum()), "top1": round(top1, 4),
                          "crop_right": round(crop_right, 4)}
    mean = float(np.mean([v["top1"] for v in per_crop.values()])) if per_crop else 0.0
    return {"per_crop": per_crop, "mean_top1": round(mean, 4),
            "method": "softmax head on the frozen features, trained without the crop's field "
                      "photos and leaf crops, evaluated on all of that crop's field photos"}


def compare_backbones(
    features: dict[str, dict[str, np.ndarray]], y: dict[str, np.ndarray],
    n_classes: int, **fit: Any,
) -> dict[str, dict[str, float]]:
    """``features[backbone][set]`` with sets ``train``, ``field_val``, ``field_test`` (and
    ``crop_test`` when there): top-1 of a head fitted on ``train`` per backbone and set."""
    out: dict[str, dict[str, float]] = {}
    targets = np.eye(n_classes, dtype=np.float32)[y["train"]]
    for name, sets in features.items():
        head = fit_softmax(sets["train"], targets, **fit)
        out[name] = {s: round(float(np.mean(head.probabilities(x).argmax(1) == y[s])), 4)
                     for s, x in sets.items() if s != "train"}
    return out
