"""Turn a training run into a shipped model folder ``models/<name>/<version>/``.

Evaluates the exported .tflite files themselves: thresholds are chosen on the validation photos
(lab and field), figures are measured on the held-out test photos, int8 against float.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from agrifleet.manifest import (
    Manifest,
    SplitInfo,
    TensorSpec,
    sha256_file,
    write_manifest,
)
from models.evaluate import (
    Evaluation,
    TFLiteModel,
    choose_thresholds,
    confusion_png,
    evaluate,
    format_summary,
    report_dict,
)
from models.split import FIELD_FRACTIONS, LAB_FRACTIONS, NEAR_DUP_BITS, Photo, split_hash

log = logging.getLogger(__name__)

MAX_MODEL_BYTES = 2 * 1024 * 1024
SAMPLE_NAME = "test_sample.txt"
#: Photos per class in the fixed test sample shipped with the model (for the accuracy test).
SAMPLE_PER_CLASS = 10


def fixed_sample(photos: Sequence[Photo], per_class: int = SAMPLE_PER_CLASS) -> list[Photo]:
    """The first ``per_class`` test photos of each class, by file name."""
    chosen: list[Photo] = []
    for label in sorted({p.label for p in photos}):
        mine = sorted((p for p in photos if p.label == label and p.split == "test"),
                      key=lambda p: p.path.name)
        chosen.extend(mine[:per_class])
    return chosen
SPLIT_METHOD = (
    f"per class, photos whose 64-bit dHash differ by <= {NEAR_DUP_BITS} bits are grouped; "
    "sha256('agrifleet-split-v1:' + smallest file name in group) picks the split; "
    f"lab fractions {LAB_FRACTIONS}, field fractions {FIELD_FRACTIONS} (train, val, test)"
)


def _tensor(detail: dict[str, Any]) -> TensorSpec:
    scale, zero = detail.get("quantization", (0.0, 0))
    return TensorSpec(shape=[int(v) for v in detail["shape"]],
                      dtype=np.dtype(detail["dtype"]).name,
                      scale=float(scale), zero_point=int(zero))


def pixels_and_truth(
    photos: Sequence[Photo], labels: Sequence[str], size: int, threads: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """Preprocessed pixels and true class indices for ``photos``."""
    from models.train import load_pixels

    index = {lb: i for i, lb in enumerate(labels)}
    truth = np.array([index[p.label] for p in photos], dtype=np.int64)
    return load_pixels(photos, size, threads), truth


def package(
    train_dir: Path, lab: list[Photo], field: list[Photo], dest: Path,
    name: str, version: str, threads: int = 2,
) -> Manifest:
    """Evaluate the run in ``train_dir`` and write the model folder ``dest``; its manifest."""
    meta = json.loads((train_dir / "training.json").read_text(encoding="utf-8"))
    labels: list[str] = meta["labels"]
    photos = lab + field
    digest = split_hash(photos)
    if digest != meta["split_hash"]:
        raise ValueError(f"the data's split hash {digest[:12]} differs from the training "
                         f"run's {meta['split_hash'][:12]}: not the data it was trained on")
    int8 = TFLiteModel(train_dir / "model.tflite", threads)
    flt = TFLiteModel(train_dir / "model_float.tflite", threads)
    size = int8.size
    sets = {
        "val": [p for p in photos if p.split == "val"],
        "test": [p for p in lab if p.split == "test"],
        "field_test": [p for p in field if p.split == "test"],
        "test_sample": fixed_sample(lab),
        "field_sample": fixed_sample(field),
    }
    probs: dict[str, dict[str, np.ndarray]] = {"int8": {}, "float": {}}
    truth: dict[str, np.ndarray] = {}
    for set_name, members in sets.items():
        pixels, truth[set_name] = pixels_and_truth(members, labels, size, threads)
        probs["int8"][set_name] = int8.predict(pixels)
        probs["float"][set_name] = flt.predict(pixels)
        log.info("evaluated %s (%d photos)", set_name, len(members))
    thresholds = choose_thresholds(probs["int8"]["val"], truth["val"], labels)
    results: dict[str, dict[str, Evaluation]] = {
        kind: {s: evaluate(probs[kind][s], truth[s], labels, thresholds) for s in sets}
        for kind in probs
    }
    for kind, by_set in results.items():
        for set_name, e in by_set.items():
            print(format_summary(f"{kind:5} {set_name}", e))

    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(train_dir / "model.tflite", dest / "model.tflite")
    shutil.copyfile(train_dir / "model_float.tflite", dest / "model_float.tflite")
    confusion_png(results["int8"]["test"], labels, dest / "confusion_test.png",
                  "int8 model, lab test split")
    confusion_png(results["int8"]["field_test"], labels, dest / "confusion_field_test.png",
                  "int8 model, field test split")
    counts = {
        source: dict(sorted(Counter(p.split for p in group).items()))
        for source, group in (("lab", lab), ("field", field))
    }
    report = {kind: {s: report_dict(e) for s, e in by_set.items()}
              for kind, by_set in results.items()}
    (dest / SAMPLE_NAME).write_text(
        "".join(f"{src}\t{p.key}\n" for src, key in (("lab", "test_sample"),
                                                    ("field", "field_sample"))
                for p in sets[key]), encoding="utf-8")
    (dest / "eval_report.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    size_bytes = (dest / "model.tflite").stat().st_size
    manifest = Manifest(
        name=name,
        version=version,
        sha256=sha256_file(dest / "model.tflite"),
        size_bytes=size_bytes,
        input=_tensor(int8.input),
        output=_tensor(int8.output),
        labels=labels,
        thresholds=thresholds,
        healthy_labels=[lb for lb in labels if lb.endswith("healthy")],
        metrics={
            "int8": {s: e.summary() for s, e in results["int8"].items()},
            "float": {s: e.summary() for s, e in results["float"].items()},
            "threshold_rule": "lowest confidence reaching 97% precision on validation, "
                              "within [0.35, 0.90]; 0.5 for classes rarely predicted",
        },
        split=SplitInfo(hash=digest, method=SPLIT_METHOD, counts=counts),
        training={k: meta[k] for k in ("settings", "train_seconds", "total_seconds",
                                       "parameters", "tensorflow", "previous_runs",
                                       "train_seconds_total") if k in meta},
        float_reference="model_float.tflite",
    )
    write_manifest(dest, manifest)
    check_floors(manifest)
    return manifest


def check_floors(manifest: Manifest) -> list[str]:
    """The shipping floors this model misses (logged); empty when it meets them all."""
    m = manifest.metrics
    misses = []
    if manifest.size_bytes > MAX_MODEL_BYTES:
        misses.append(f"int8 file is {manifest.size_bytes} bytes (> 2 MB)")
    if m["int8"]["test"]["top1"] < 0.97:
        misses.append(f"test top-1 {m['int8']['test']['top1']:.2%} < 97 %")
    drop = m["float"]["test"]["top1"] - m["int8"]["test"]["top1"]
    if drop > 0.01:
        misses.append(f"int8 loses {drop:.2%} against float (> 1 point)")
    for miss in misses:
        log.warning("floor missed: %s", miss)
    return misses
