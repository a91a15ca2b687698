"""Everything ``agrifleet model eval`` measures on a .tflite file, as one report.

Lab and field photos (the model's held-out split, or all photos with ``split="all"``): top-1,
per-class figures, the farm figures (disease-level, crop-level, healthy versus diseased,
coverage and confidently wrong), the size and JPEG-quality sweep; generated out-of-scope images;
optionally a second, **leave-field-out** model (trained with no field photo) on *all* field
photos; the file's cost (size, multiply-adds, estimated Pi 4 latency); and the floors, PASS or
FAIL. Printed as it goes and returned as a JSON-ready dict (``eval_report.json``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agrifleet.manifest import Manifest, read_manifest
from agrifleet.models.evaluate import (
    TFLiteModel,
    confusion_png,
    evaluate,
    farm_figures,
    format_farm,
    format_risk_coverage,
    format_summary,
    per_class_table,
    report_dict,
)
from agrifleet.models.split import LAB_FRACTIONS, Photo, split_field, split_folder, split_hash

REPORT_NAME = "eval_report.json"


@dataclass(frozen=True)
class EvalOptions:
    """What to evaluate, on which photos, and what to skip."""

    model: Path
    data: Path
    field: Path | None = None
    split: str = "test"
    report: Path = Path("model-eval")
    threads: int = 2
    sweep: bool = True
    out_of_scope: int = 40
    seed: int = 0
    leave_field_out: Path | None = None
    per_class: bool = True
    #: Sweep at most this many photos per class (the first by file name); 0: all of them.
    sweep_per_class: int = 0
    #: A fine-tuning run folder (models.transfer): adds leave-one-crop-out from its pixels.
    run: Path | None = None
    #: With ``run``: also compare the backbones by linear probes.
    compare_backbones: bool = False


def _run_settings(run: Path) -> dict[str, Any]:
    import json

    meta = json.loads((run / "training.json").read_text(encoding="utf-8"))
    settings: dict[str, Any] = meta["settings"]
    return settings


@dataclass(frozen=True)
class LoadedModel:
    """A .tflite file with its labels and thresholds (from its manifest when it has one)."""

    path: Path
    manifest: Manifest | None
    labels: list[str]
    thresholds: dict[str, float]

    @property
    def parts(self) -> dict[str, float | None]:
        m = self.manifest
        return {"crop_threshold": m.crop_threshold if m else None,
                "disease_threshold": m.disease_threshold if m else None}


def load_model(model: Path) -> LoadedModel:
    """A model folder or a .tflite file (then labels.txt beside it, and no thresholds)."""
    path, folder = (model / "model.tflite", model) if model.is_dir() else (model, model.parent)
    if (folder / "manifest.json").is_file():
        manifest = read_manifest(folder)
        return LoadedModel(path, manifest, manifest.labels, manifest.thresholds)
    labels = (path.parent / "labels.txt").read_text("utf-8").splitlines()
    return LoadedModel(path, None, labels, {})


class UnknownClasses(ValueError):
    """The photos hold classes the model does not know."""


def _check_classes(photos: list[Photo], labels: list[str]) -> None:
    unknown = sorted({p.label for p in photos} - set(labels))
    if unknown:
        raise UnknownClasses(f"the data has classes the model does not know: {unknown[:5]}")


def _photo_set(
    name: str, chosen: list[Photo], loaded: LoadedModel, tflite: TFLiteModel,
    options: EvalOptions, sweep: bool,
) -> dict[str, Any]:
    from agrifleet.models.model_folder import pixels_and_truth
    from agrifleet.models.sweep import format_sweep
    from agrifleet.models.sweep import sweep as run_sweep

    pixels, truth = pixels_and_truth(chosen, loaded.labels, tflite.size, options.threads)
    out = _figures(name, pixels, truth, loaded, tflite, options)
    if sweep:
        def step(size: int, quality: int, top1: float) -> None:
            print(f"  sweep {name}: {size} px, JPEG q{quality}: top-1 {top1:.1%}", flush=True)

        keep = sweep_subset(chosen, options.sweep_per_class)
        out["sweep"] = run_sweep([chosen[i].path for i in keep], truth[keep], tflite.predict,
                                 tflite.size, threads=options.threads, on_step=step)
        print(format_sweep(name, out["sweep"]))
    return out


def _figures(
    name: str, pixels: np.ndarray, truth: np.ndarray, loaded: LoadedModel, tflite: TFLiteModel,
    options: EvalOptions,
) -> dict[str, Any]:
    """Top-1, per class and per crop, the farm figures and a confusion matrix of one set."""
    labels, thresholds = loaded.labels, loaded.thresholds
    probs = tflite.predict(pixels)
    result = evaluate(probs, truth, labels, thresholds)
    print(format_summary(name, result))
    if options.per_class:
        print(per_class_table(result))
    out = report_dict(result)
    out["farm"] = farm_figures(probs, truth, labels, thresholds, **loaded.parts)
    print(format_farm(name, out["farm"]))
    print(format_risk_coverage(name, out["farm"]["risk_coverage"]))
    out["per_crop"] = per_crop_top1(probs, truth, labels)
    print(f"{name} per crop: " + ", ".join(f"{k} {v['top1']:.1%} ({v['photos']})"
                                         for k, v in out["per_crop"].items()))
    png = options.report / f"confusion_{name.replace(' ', '_')}.png"
    if confusion_png(result, labels, png, f"{loaded.path.name}, {name}"):
        print(f"confusion matrix: {png}")
    return out


def per_crop_top1(probs: np.ndarray, truth: np.ndarray, labels: list[str]
                  ) -> dict[str, dict[str, float | int]]:
    """Top-1 over the photos of each crop (the part of the class name before ``___``)."""
    from agrifleet.models.probe import crop_of

    crops = np.array([crop_of(labels[t]) for t in truth])
    right = probs.argmax(1) == truth
    return {c: {"photos": int(np.sum(crops == c)),
                "top1": round(float(right[crops == c].mean()), 4)}
            for c in sorted(set(crops.tolist()))}


def _leaf_crops(
    loaded: LoadedModel, tflite: TFLiteModel, field: list[Photo], options: EvalOptions
) -> dict[str, Any] | None:
    """The leaf crops (field/boxes.tsv) of the chosen field photos, as a set of their own."""
    from agrifleet.models.leaf_crops import load_crops, read_boxes

    assert options.field is not None
    crops, pixels = load_crops(read_boxes(options.field, field), tflite.size)
    if not crops:
        return None
    index = {lb: i for i, lb in enumerate(loaded.labels)}
    truth = np.array([index[c.label] for c in crops], np.int64)
    return _figures(f"leaf crops {options.split}", pixels, truth, loaded, tflite, options)


def sweep_subset(photos: list[Photo], per_class: int) -> list[int]:
    """Indices of at most ``per_class`` photos of each class, the first by file name (all of
    them for 0), in their original order."""
    if per_class <= 0:
        return list(range(len(photos)))
    ranked = sorted(range(len(photos)), key=lambda i: (photos[i].label, photos[i].path.name))
    taken: dict[str, int] = {}
    keep = []
    for i in ranked:
        label = photos[i].label
        if taken.get(label, 0) < per_class:
            taken[label] = taken.get(label, 0) + 1
            keep.append(i)
    return sorted(keep)


def _out_of_scope(
    loaded: LoadedModel, tflite: TFLiteModel, field: list[Photo], options: EvalOptions
) -> dict[str, Any]:
    from agrifleet.models.out_of_scope import (
        background_set,
        out_of_scope_figures,
        synthetic_set,
        to_model,
    )

    images = (synthetic_set(options.out_of_scope, options.seed)
              + background_set([p.path for p in field], 6 * options.out_of_scope, options.seed))
    probs = tflite.predict(to_model(images, tflite.size))
    oos = out_of_scope_figures(probs, [k for k, _ in images], loaded.labels, loaded.thresholds,
                               loaded.parts["disease_threshold"])
    print(f"out of scope: {oos['answered']:.1%} of {oos['count']} generated images answered as "
          f"a known class, {oos['answered_as_disease']:.1%} as a disease (" + ", ".join(
              f"{k} {v['answered']:.0%}" for k, v in oos["per_kind"].items()) + ")")
    return oos


def _leave_field_out(model: Path, field: list[Photo], options: EvalOptions) -> dict[str, Any]:
    """The leave-field-out model on every field photo (it trained on none of them)."""
    loaded = load_model(model)
    _check_classes(field, loaded.labels)
    excluded = (loaded.manifest.training.get("settings", {}).get("exclude_field")
                if loaded.manifest else None)
    if excluded is not True:
        print(f"leave-field-out: WARNING {model} does not record training without field "
              "photos (model train --exclude-field): its figure is not a leave-field-out one")
    tflite = TFLiteModel(loaded.path, options.threads)
    figures = _photo_set("leave-field-out field all", field, loaded, tflite, options, False)
    return {"model": str(loaded.path),
            "version": loaded.manifest.version if loaded.manifest else None,
            "trained_without_field": excluded is True, "field": figures}


def run_eval(options: EvalOptions) -> dict[str, Any]:
    """Evaluate, print as it goes, and return the report (see the module doc)."""
    from agrifleet.models.compute_cost import cost
    from agrifleet.models.floors import floors, format_floors

    loaded = load_model(options.model)
    lab = split_folder(options.data, LAB_FRACTIONS)
    fld = split_field(options.field) if options.field else []
    _check_classes(lab + fld, loaded.labels)
    if loaded.manifest and options.split != "all":
        same = split_hash(lab + fld) == loaded.manifest.split.hash
        print("split: same photos and split as the model's training" if same else
              "split: WARNING the data differs from the model's training data; "
              "use --split all for photos the model has never seen")
    tflite = TFLiteModel(loaded.path, options.threads)
    options.report.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "model": str(loaded.path), "split": options.split,
        "version": loaded.manifest.version if loaded.manifest else None,
    }
    for name, photos in (("lab", lab), ("field", fld)):
        chosen = [p for p in photos if options.split in ("all", p.split)]
        if chosen:
            report[name] = _photo_set(f"{name} {options.split}", chosen, loaded, tflite,
                                      options, options.sweep)
    if fld and options.field is not None:
        crops = _leaf_crops(loaded, tflite,
                            [p for p in fld if options.split in ("all", p.split)], options)
        if crops is not None:
            report["field_crops"] = crops
    if options.run is not None and options.field is not None:
        from agrifleet.models.transfer import TransferSettings
        from agrifleet.models.transfer_eval import run_probes

        report.update(run_probes(options.run, options.data, options.field, TransferSettings(
            **_run_settings(options.run)), compare=options.compare_backbones))
    if options.out_of_scope > 0:
        backgrounds = [p for p in fld if options.split in ("all", p.split)]
        report["out_of_scope"] = _out_of_scope(loaded, tflite, backgrounds, options)
    if options.leave_field_out is not None:
        if not fld:
            raise ValueError("--leave-field-out needs --field: the field photos to test it on")
        report["leave_field_out"] = _leave_field_out(options.leave_field_out, fld, options)
    try:
        report["cost"] = cost(loaded.path)
    except (ValueError, RuntimeError, AttributeError) as exc:
        print(f"multiply-adds not counted: {exc}")
    found = floors(report)
    report["floors"] = [f.as_dict() for f in found]
    c = report.get("cost")
    if c:
        print(f"cost: {c['size_bytes'] / 1024:.0f} KiB, {c['multiply_adds'] / 1e6:.1f} M "
              f"multiply-adds per photo, about {c['pi4_ms_estimate']:.0f} ms on a Raspberry Pi 4 "
              "(estimated)")
    print(format_floors(found))
    return report


def floors_missed(report: dict[str, Any]) -> list[str]:
    """Names of the floors the report's model fails (not the unmeasured ones)."""
    return [f["name"] for f in report.get("floors", []) if f["passed"] is False]

