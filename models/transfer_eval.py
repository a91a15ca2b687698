"""The figures of a fine-tuning run that need its cached pixels: leave-one-crop-out and the
backbone comparison (train extra).

Both use linear probes (:mod:`models.probe`) on frozen ImageNet features, computed by float
TFLite models on the run folder's cached pixels (``pixels-<size>.npz`` of
:func:`models.transfer.load_corpus`), so they cost minutes, not another training run.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from agrifleet.models.probe import compare_backbones, leave_crop_out
from agrifleet.models.transfer import (
    Corpus,
    FrozenPart,
    TransferSettings,
    _set_threads,
    load_corpus,
)

log = logging.getLogger(__name__)

#: Lab training photos in the probes' training rows (a seeded sample; field rows are all in).
PROBE_LAB = 3000


def pooled_model(backbone: str, size: int, cut_after: int | None = None) -> Any:
    """Image → pooled features of the ImageNet backbone (whole, or cut after a block)."""
    import keras

    from agrifleet.models.backbones import block_output, build_backbone
    from agrifleet.models.pretrained import load_weights

    model = build_backbone(backbone, size, load_weights(backbone))
    if cut_after is None:
        return keras.Model(model.input, model.get_layer("pool").output)
    cut = model.get_layer(block_output(model, cut_after)).output
    return keras.Model(model.input, keras.layers.GlobalAveragePooling2D()(cut))


def _features(model: Any, path: Path, pixels: np.ndarray, threads: int) -> np.ndarray:
    part = FrozenPart(model, path, threads)
    return np.concatenate([part(pixels[i:i + 32]).astype(np.float32)
                           for i in range(0, len(pixels), 32)])


def _probe_rows(corpus: Corpus, seed: int) -> np.ndarray:
    lab = corpus.where("train", "lab")
    lab = np.random.default_rng(seed).permutation(lab)[:PROBE_LAB]
    return np.concatenate([lab, corpus.where("train", "field", "crop")])


#: The backbones the comparison fits a head on: (backbone, block to cut after or None).
CANDIDATES: dict[str, tuple[str, int | None]] = {
    "efficientnet-lite0": ("efficientnet-lite0", None),
    "efficientnet-lite0 cut after block 12": ("efficientnet-lite0", 12),
    "mobilenet-v2": ("mobilenet-v2", None),
}
#: Bump when a probe's method changes, so a saved result is not reused.
PROBES_VERSION = 2


def run_probes(run_dir: Path, data: Path, field_dir: Path, s: TransferSettings,
               compare: bool = True) -> dict[str, Any]:
    """Leave-one-crop-out (and, with ``compare``, the backbone comparison) for a run folder;
    each kept in ``probes.json`` there and read back on the next call."""
    import json

    saved = run_dir / "probes.json"
    report: dict[str, Any] = (json.loads(saved.read_text(encoding="utf-8"))
                              if saved.is_file() else {})
    if report.get("version") != PROBES_VERSION:
        report = {"version": PROBES_VERSION, **({"backbones": report["backbones"]}
                                                if "backbones" in report else {})}
    wanted = ["leave_crop_out", *(["backbones"] if compare else [])]
    if all(k in report for k in wanted):
        return {k: report[k] for k in wanted}
    _set_threads(s.threads)
    corpus = load_corpus(data, field_dir, run_dir, s)
    if "leave_crop_out" not in report:
        report["leave_crop_out"] = _leave_crop_out(corpus, run_dir, s)
    if compare and "backbones" not in report:
        report["backbones"] = _compare(corpus, run_dir, s)
    saved.write_text(json.dumps(report, indent=1), encoding="utf-8")
    return {k: report[k] for k in wanted}


def _compare(corpus: Corpus, run_dir: Path, s: TransferSettings) -> dict[str, Any]:
    """A softmax head on each candidate's pooled ImageNet features (no augmentation, no
    fine-tuning), scored on the field validation and test photos and the test leaf crops."""
    rows = _probe_rows(corpus, s.seed)
    sets = {"train": rows, "field_val": corpus.where("val", "field"),
            "field_test": corpus.where("test", "field"), "crop_test": corpus.where("test", "crop")}
    wanted = np.unique(np.concatenate(list(sets.values())))
    row_of = {int(i): k for k, i in enumerate(wanted)}
    features: dict[str, dict[str, np.ndarray]] = {}
    for name, (backbone, cut) in CANDIDATES.items():
        model = pooled_model(backbone, s.size, cut)
        got = _features(model, run_dir / f"probe-{name.replace(' ', '-')}.tflite",
                        corpus.pixels[wanted], s.threads)
        features[name] = {k: got[[row_of[int(i)] for i in idx]] for k, idx in sets.items()}
        log.info("probe features of %s: %d images", name, len(wanted))
    return compare_backbones(features, {k: corpus.y[idx] for k, idx in sets.items()},
                             len(corpus.labels))


def _leave_crop_out(corpus: Corpus, run_dir: Path, s: TransferSettings) -> dict[str, Any]:
    """Leave-one-crop-out on the run's own frozen part: a softmax head on its pooled features
    of the cached augmented training views (the training rows the shipped model saw, lab
    leaves on generated backgrounds included), without the crop's field photos and leaf
    crops; tested on all that crop's field photos."""
    xs, ts, names, field_rows = [], [], [], []
    for v in range(s.views):
        view = np.load(run_dir / "features" / f"view{v}.npz")
        idx = view["idx"]
        xs.append(view["x"].astype(np.float32).mean(axis=(1, 2)))
        ts.append(view["t"].astype(np.float32))
        outliers = len(view["x"]) - len(idx)
        names += [corpus.labels[corpus.y[i]] for i in idx] + [None] * outliers
        field_rows.append(np.r_[corpus.source[idx] != "lab", np.zeros(outliers, bool)])
    field_all = np.nonzero(corpus.source == "field")[0]
    frozen = FrozenPart(None, run_dir / "frozen_float.tflite", s.threads)
    test_x = np.concatenate([frozen(corpus.pixels[field_all[i:i + 32]]).astype(np.float32)
                             .mean(axis=(1, 2)) for i in range(0, len(field_all), 32)])
    result = leave_crop_out(np.concatenate(xs), np.concatenate(ts), names,
                            np.concatenate(field_rows), test_x, corpus.y[field_all],
                            corpus.labels)
    result["method"] = ("softmax head on the shipped model's frozen features (blocks 0-"
                        f"{s.freeze_through}, pooled) of its {s.views} cached augmented training "
                        "views, trained without the crop's field photos and leaf crops, "
                        "evaluated on all of that crop's field photos")
    return result
