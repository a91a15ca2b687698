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

from models.probe import compare_backbones, leave_crop_out
from models.transfer import Corpus, FrozenPart, TransferSettings, _set_threads, load_corpus

log = logging.getLogger(__name__)

#: Lab training photos in the probes' training rows (a seeded sample; field rows are all in).
PROBE_LAB = 3000


def pooled_model(backbone: str, size: int, cut_after: int | None = None) -> Any:
    """Image → pooled features of the ImageNet backbone (whole, or cut after a block)."""
    import keras

    from models.backbones import block_output, build_backbone
    from models.pretrained import load_weights

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


def run_probes(run_dir: Path, data: Path, field_dir: Path, s: TransferSettings,
               compare: bool = True) -> dict[str, Any]:
    """Leave-one-crop-out (and, with ``compare``, the backbone comparison) for a run folder."""
    _set_threads(s.threads)
    corpus = load_corpus(data, field_dir, run_dir, s)
    n = len(corpus.labels)
    rows = _probe_rows(corpus, s.seed)
    field_all = np.nonzero(corpus.source == "field")[0]
    sets = {"train": rows, "field_val": corpus.where("val", "field"),
            "field_test": corpus.where("test", "field"), "crop_test": corpus.where("test", "crop")}
    candidates: dict[str, tuple[str, int | None]] = {s.backbone: (s.backbone, None)}
    if compare:
        candidates = {"efficientnet-lite0": ("efficientnet-lite0", None),
                      "efficientnet-lite0 cut after block 12": ("efficientnet-lite0", 12),
                      "mobilenet-v2": ("mobilenet-v2", None)}
    features: dict[str, dict[str, np.ndarray]] = {}
    for name, (backbone, cut) in candidates.items():
        tag = name.replace(" ", "-")
        model = pooled_model(backbone, s.size, cut)
        wanted = np.unique(np.concatenate([*sets.values(), field_all]))
        got = _features(model, run_dir / f"probe-{tag}.tflite", corpus.pixels[wanted], s.threads)
        row_of = {int(i): k for k, i in enumerate(wanted)}
        features[name] = {k: got[[row_of[int(i)] for i in idx]] for k, idx in sets.items()}
        features[name]["field_all"] = got[[row_of[int(i)] for i in field_all]]
        log.info("probe features of %s: %d images", name, len(wanted))
    report: dict[str, Any] = {}
    mine = features[s.backbone]
    report["leave_crop_out"] = leave_crop_out(
        mine["train"], np.eye(n, dtype=np.float32)[corpus.y[rows]],
        [corpus.labels[i] for i in corpus.y[rows]], corpus.source[rows] != "lab",
        mine["field_all"], corpus.y[field_all], corpus.labels)
    ys = {k: corpus.y[idx] for k, idx in sets.items()}
    if compare:
        report["backbones"] = compare_backbones(
            {k: {s_: v for s_, v in f.items() if s_ != "field_all"} for k, f in features.items()},
            ys, n)
    return report
