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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agrifleet.manifest import (
    Manifest,
    SplitInfo,
    TensorSpec,
    read_manifest,
    sha256_file,
    write_manifest,
)
from agrifleet.models.evaluate import (
    Evaluation,
    OperatingPoint,
    TFLiteModel,
    choose_operating_point,
    confusion_png,
    evaluate,
    format_summary,
    report_dict,
)
from agrifleet.models.floors import MAX_BYTES
from agrifleet.models.split import FIELD_FRACTIONS, LAB_FRACTIONS, NEAR_DUP_BITS, Photo, split_hash

log = logging.getLogger(__name__)

MAX_MODEL_BYTES = MAX_BYTES  # the budget of issue 19: 5 MiB
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
    f"photos whose 64-bit dHash differ by <= {NEAR_DUP_BITS} bits are grouped (lab photos per "
    "class, field photos across classes); "
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
    from agrifleet.models.train import load_pixels

    index = {lb: i for i, lb in enumerate(labels)}
    truth = np.array([index[p.label] for p in photos], dtype=np.int64)
    return load_pixels(photos, size, threads), truth


def _sets(lab: list[Photo], field: list[Photo]) -> dict[str, list[Photo]]:
    """The photo sets a model folder is measured on (validation: lab photos first)."""
    return {
        "val": [p for p in lab + field if p.split == "val"],
        "test": [p for p in lab if p.split == "test"],
        "field_test": [p for p in field if p.split == "test"],
        "test_sample": fixed_sample(lab),
        "field_sample": fixed_sample(field),
    }


@dataclass
class Measured:
    """Both .tflite files of a model on every set, at the chosen operating point."""

    labels: list[str]
    sets: dict[str, list[Photo]]
    point: OperatingPoint
    results: dict[str, dict[str, Evaluation]]
    int8: TFLiteModel

    @property
    def report(self) -> dict[str, dict[str, Any]]:
        return {kind: {s: report_dict(e) for s, e in by_set.items()}
                for kind, by_set in self.results.items()}

    @property
    def metrics(self) -> dict[str, Any]:
        return {**{kind: {s: e.summary() for s, e in by_set.items()}
                   for kind, by_set in self.results.items()},
                "threshold_rule": self.point.rule}


def measure(
    int8_file: Path, float_file: Path, lab: list[Photo], field: list[Photo],
    labels: list[str], threads: int = 2, coverage: float | None = None,
    trained_on_field: bool = True, field_weight: float = 1.0,
) -> Measured:
    """Run both files on every set, choose the thresholds on validation, evaluate.

    A model trained without field photos (the leave-field-out model) has its thresholds chosen
    on the lab validation photos only, so nothing of the field photos it is measured on
    reaches it.
    """
    int8 = TFLiteModel(int8_file, threads)
    flt = TFLiteModel(float_file, threads)
    sets = _sets(lab, field)
    probs: dict[str, dict[str, np.ndarray]] = {"int8": {}, "float": {}}
    truth: dict[str, np.ndarray] = {}
    for set_name, members in sets.items():
        pixels, truth[set_name] = pixels_and_truth(members, labels, int8.size, threads)
        probs["int8"][set_name] = int8.predict(pixels)
        probs["float"][set_name] = flt.predict(pixels)
        log.info("evaluated %s (%d photos)", set_name, len(members))
    lab_val = sum(p.split == "val" for p in lab)
    chosen_on = slice(None) if trained_on_field else slice(0, lab_val)
    is_lab = (np.arange(len(sets["val"])) < lab_val)[chosen_on]
    point = choose_operating_point(probs["int8"]["val"][chosen_on], truth["val"][chosen_on],
                                   labels, is_lab, coverage, field_weight)
    results = {
        kind: {s: evaluate(probs[kind][s], truth[s], labels, point.thresholds) for s in sets}
        for kind in probs
    }
    for kind, by_set in results.items():
        for set_name, e in by_set.items():
            print(format_summary(f"{kind:5} {set_name}", e))
    print(f"thresholds: {point.target_precision:.1%} precision target, lab validation photos "
          f"answered {point.lab_coverage:.1%}")
    return Measured(labels, sets, point, results, int8)


def package(
    train_dir: Path, lab: list[Photo], field: list[Photo], dest: Path,
    name: str, version: str, threads: int = 2, keep_float: bool = True,
    field_weight: float = 1.0, coverage: float | None = None,
) -> Manifest:
    """Evaluate the run in ``train_dir`` and write the model folder ``dest``; its manifest.

    With ``keep_float`` False the float model (13 MB for a pretrained backbone) stays in the
    run folder and the manifest names no float reference.
    """
    meta = json.loads((train_dir / "training.json").read_text(encoding="utf-8"))
    labels: list[str] = meta["labels"]
    digest = _same_split(lab + field, meta["split_hash"], "training run's")
    m = measure(train_dir / "model.tflite", train_dir / "model_float.tflite", lab, field,
                labels, threads, coverage,
                trained_on_field=not meta["settings"].get("exclude_field"),
                field_weight=field_weight)

    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(train_dir / "model.tflite", dest / "model.tflite")
    if keep_float:
        shutil.copyfile(train_dir / "model_float.tflite", dest / "model_float.tflite")
    _write_reports(dest, m, keep_release=False)
    counts = {
        source: dict(sorted(Counter(p.split for p in group).items()))
        for source, group in (("lab", lab), ("field", field))
    }
    (dest / SAMPLE_NAME).write_text(
        "".join(f"{src}\t{p.key}\n" for src, key in (("lab", "test_sample"),
                                                    ("field", "field_sample"))
                for p in m.sets[key]), encoding="utf-8")
    manifest = Manifest(
        name=name,
        version=version,
        sha256=sha256_file(dest / "model.tflite"),
        size_bytes=(dest / "model.tflite").stat().st_size,
        input=_tensor(m.int8.input),
        output=_tensor(m.int8.output),
        labels=labels,
        thresholds=m.point.thresholds,
        healthy_labels=[lb for lb in labels if lb.endswith("healthy")],
        metrics=m.metrics,
        split=SplitInfo(hash=digest, method=SPLIT_METHOD, counts=counts),
        training={k: meta[k] for k in ("settings", "train_seconds", "total_seconds",
                                       "parameters", "tensorflow", "previous_runs",
                                       "train_seconds_total", "fleet_photos", "leaf_crops")
                  if k in meta},
        float_reference="model_float.tflite" if keep_float else None,
    )
    write_manifest(dest, manifest)
    check_floors(manifest)
    return manifest


def rethreshold(
    model_dir: Path, lab: list[Photo], field: list[Photo], threads: int = 2,
    coverage: float | None = None, field_weight: float = 1.0, float_file: Path | None = None,
) -> Manifest:
    """Choose a model folder's thresholds again (same files, same split), in place.

    Rewrites the manifest's thresholds and figures and the figures ``train`` wrote into
    ``eval_report.json``; the rest of the report (``model release``'s) is kept, so run
    ``release`` again afterwards for the card and the self-test.
    """
    manifest = read_manifest(model_dir)
    if float_file is None and manifest.float_reference is not None:
        float_file = model_dir / manifest.float_reference
    if float_file is None:
        raise ValueError(f"{model_dir} has no float reference model to measure beside int8 "
                         "(give the training run's model_float.tflite)")
    _same_split(lab + field, manifest.split.hash, "model's")
    excluded = manifest.training.get("settings", {}).get("exclude_field") is True
    m = measure(model_dir / manifest.file, float_file, lab, field,
                manifest.labels, threads, coverage, trained_on_field=not excluded,
                field_weight=field_weight)
    _write_reports(model_dir, m, keep_release=True)
    updated = manifest.model_copy(update={"thresholds": m.point.thresholds,
                                          "metrics": m.metrics})
    write_manifest(model_dir, updated)
    return updated


def _same_split(photos: list[Photo], expected: str, whose: str) -> str:
    digest = split_hash(photos)
    if digest != expected:
        raise ValueError(f"the data's split hash {digest[:12]} differs from the {whose} "
                         f"{expected[:12]}: not the data it was trained on")
    return digest


def _write_reports(dest: Path, m: Measured, keep_release: bool) -> None:
    """The confusion matrices and the train-time part of ``eval_report.json``; with
    ``keep_release`` the rest of an existing report (a release's ``field_predicting``) stays."""
    confusion_png(m.results["int8"]["test"], m.labels, dest / "confusion_test.png",
                  "int8 model, lab test split")
    confusion_png(m.results["int8"]["field_test"], m.labels, dest / "confusion_field_test.png",
                  "int8 model, field test split")
    path = dest / "eval_report.json"
    report = m.report
    if keep_release and path.is_file():
        old = json.loads(path.read_text("utf-8"))
        report |= {k: v for k, v in old.items() if k not in report}
    path.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


def check_floors(manifest: Manifest) -> list[str]:
    """The shipping floors this model misses (logged); empty when it meets them all."""
    m = manifest.metrics
    misses = []
    if manifest.size_bytes > MAX_MODEL_BYTES:
        misses.append(f"int8 file is {manifest.size_bytes} bytes "
                      f"(> {MAX_MODEL_BYTES / 1024 / 1024:g} MiB)")
    if m["int8"]["test"]["top1"] < 0.97:
        misses.append(f"test top-1 {m['int8']['test']['top1']:.2%} < 97 %")
    drop = m["float"]["test"]["top1"] - m["int8"]["test"]["top1"]
    if drop > 0.01:
        misses.append(f"int8 loses {drop:.2%} against float (> 1 point)")
    for miss in misses:
        log.warning("floor missed: %s", miss)
    return misses
