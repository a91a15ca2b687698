"""The model card's field-predicting part: what ``agrifleet model eval`` measured (farm figures,
selective accuracy against coverage, the sweep, out-of-scope photos, the leave-field-out model,
cost, floors), with the earlier versions beside this one.

Earlier versions' figures come from their own folders (``../<version>/``: the ``model eval``
report in ``eval_report.json`` under ``field_predicting``, else the manifest's figures) and,
for what a folder does not hold, from :data:`RECORDED`: figures measured when they shipped.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agrifleet.manifest import Manifest, ModelError, read_manifest
from agrifleet.models.floors import Floor, floors, worst_crop, worst_size_gap

Figures = dict[str, float | None]

#: Figures of earlier versions measured when they shipped. 1.0.0: docs/models.md. 1.1.0:
#: ``agrifleet model eval`` on its own test split (2026-12-02, with the sweep and the
#: generated out-of-scope set, 342 images: 51.5 % answered; issue 9 measured 35 % on another
#: generated set) and issue 9's measurements on photos outside ../shared (775 PlantVillage
#: photos at their original 256 px).
RECORDED: dict[str, Figures] = {
    "1.0.0": {"lab_top1": 0.897, "field_top1": 0.598, "multiply_adds": 17.6e6},
    "1.1.0": {"lab_top1": 0.9819, "lab_coverage": 0.9704, "lab_disease_top1": 0.9852,
              "lab_healthy": 0.9976, "sweep_gap": 0.043, "sweep_q50": 0.9709,
              "unseen_lab_top1": 0.929, "unseen_lab_q50_top1": 0.881,
              "field_top1": 0.6964, "field_disease_top1": 0.6964, "field_coverage": 0.5268,
              "field_confidently_wrong": 0.0982, "out_of_scope_answered": 0.5146,
              "size_bytes": 1_212_608, "multiply_adds": 270_026_496, "pi4_ms": 41.3,
              "train_seconds": 2538},
}


#: Earlier versions measured again on the field photos of the version that replaced them
#: (``agrifleet model eval --split test`` with that version's split): 2.0.0 on 3.0.0's field
#: test split of 22 classes of 8 crops and its leaf crops (2026-12-07). These win over the
#: figures in the folders, which were measured on the maize photos of their day.
REMEASURED: dict[str, Figures] = {
    "2.0.0": {"field_top1": 0.2456, "field_disease_top1": 0.3002, "field_coverage": 0.3977,
              "field_confidently_wrong": 0.2476, "field_worst_crop": 0.0, "crops_top1": 0.1143,
              "crops_coverage": 0.4573},
}


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


#: (key, what, how to show it), in the order of the comparison table.
ROWS: list[tuple[str, str, Callable[[float | None], str]]] = [
    ("lab_top1", "lab photos, own test split: top-1", _pct),
    ("lab_coverage", "lab photos answered (not uncertain)", _pct),
    ("lab_disease_top1", "lab photos: disease right whatever the crop", _pct),
    ("lab_healthy", "lab photos: healthy vs diseased right", _pct),
    ("sweep_gap", "sweep: worst size below the best size (points)",
     lambda x: "–" if x is None else f"{100 * x:.1f}"),
    ("sweep_q50", "lab photos at 192 px, JPEG quality 50: top-1", _pct),
    ("unseen_lab_top1", "PlantVillage photos outside ../shared (256 px): top-1", _pct),
    ("unseen_lab_q50_top1", "the same at JPEG quality 50: top-1", _pct),
    ("field_top1", "field photos, 3.0.0's test split (22 classes, 8 crops): top-1", _pct),
    ("field_disease_top1", "field photos: disease right", _pct),
    ("field_coverage", "field photos answered", _pct),
    ("field_confidently_wrong", "field photos answered and wrong", _pct),
    ("field_worst_crop", "field photos: top-1 of the worst crop", _pct),
    ("crops_top1", "single-leaf crops of the field test photos: top-1", _pct),
    ("crops_coverage", "single-leaf crops answered", _pct),
    ("loco_mean", "leave-one-crop-out: mean top-1 over the crops", _pct),
    ("lfo_top1", "leave-field-out model on every maize field photo: top-1", _pct),
    ("lfo_disease_top1", "leave-field-out model: disease right", _pct),
    ("out_of_scope_answered", "out-of-scope images answered with a known class", _pct),
    ("out_of_scope_disease", "out-of-scope images answered as a disease", _pct),
    ("size_bytes", "int8 file", lambda x: "–" if x is None else f"{x / 1024 / 1024:.2f} MiB"),
    ("multiply_adds", "multiply-adds per photo",
     lambda x: "–" if x is None else f"{x / 1e6:.1f} M"),
    ("pi4_ms", "Raspberry Pi 4 invoke, estimated", lambda x: "–" if x is None else f"{x:.0f} ms"),
    ("train_seconds", "training time on 2 CPU cores",
     lambda x: "–" if x is None else f"{x / 60:.0f} min"),
]


def _get(node: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def training_seconds(manifest: Manifest) -> float | None:
    """Training time of every run that led to the model (from its run's training.json, as the
    manifest records it)."""
    runs = [*manifest.training.get("previous_runs", []), manifest.training]
    seconds = [r.get("train_seconds") for r in runs]
    return float(sum(s for s in seconds if s is not None)) if any(seconds) else None


def headline(fe: dict[str, Any] | None, manifest: Manifest | None) -> Figures:
    """The comparison figures of one version: its ``model eval`` report ``fe`` (may be None)
    and its manifest."""
    fe = fe or {}
    out: Figures = {
        "lab_top1": _get(fe, "lab", "top1"),
        "lab_coverage": _get(fe, "lab", "farm", "label", "coverage"),
        "lab_disease_top1": _get(fe, "lab", "farm", "disease", "top1"),
        "lab_healthy": _get(fe, "lab", "farm", "healthy_vs_diseased", "accuracy"),
        "sweep_gap": worst_size_gap(_get(fe, "lab", "sweep")),
        "sweep_q50": _get(fe, "lab", "sweep", "top1", "192", "50"),
        "field_top1": _get(fe, "field", "top1"),
        "field_disease_top1": _get(fe, "field", "farm", "disease", "top1"),
        "field_coverage": _get(fe, "field", "farm", "label", "coverage"),
        "field_confidently_wrong": _get(fe, "field", "farm", "label", "confidently_wrong"),
        "field_worst_crop": worst_crop(fe),
        "crops_top1": _get(fe, "field_crops", "top1"),
        "crops_coverage": _get(fe, "field_crops", "farm", "label", "coverage"),
        "loco_mean": _get(fe, "leave_crop_out", "mean_top1"),
        "out_of_scope_disease": _get(fe, "out_of_scope", "answered_as_disease"),
        "lfo_top1": _get(fe, "leave_field_out", "field", "top1"),
        "lfo_disease_top1": _get(fe, "leave_field_out", "field", "farm", "disease", "top1"),
        "out_of_scope_answered": _get(fe, "out_of_scope", "answered"),
        "size_bytes": _get(fe, "cost", "size_bytes"),
        "multiply_adds": _get(fe, "cost", "multiply_adds"),
        "pi4_ms": _get(fe, "cost", "pi4_ms_estimate"),
    }
    if manifest is not None:
        i8 = manifest.metrics.get("int8", {})
        fallbacks = {"lab_top1": _get(i8, "test", "top1"),
                     "lab_coverage": _get(i8, "test", "covered"),
                     "field_top1": _get(i8, "field_test", "top1"),
                     "field_coverage": _get(i8, "field_test", "covered"),
                     "size_bytes": float(manifest.size_bytes),
                     "train_seconds": training_seconds(manifest)}
        for key, value in fallbacks.items():
            if out.get(key) is None:
                out[key] = value
    return out


def _version_key(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in version.split("."))
    except ValueError:
        return ()


def earlier_versions(model_dir: Path, version: str) -> list[tuple[str, Figures]]:
    """(version, figures) of every version before ``version``: its folder beside
    ``model_dir`` when present, the recorded figures for the rest."""
    found: dict[str, Figures] = {v: dict(f) for v, f in RECORDED.items()}
    parent = model_dir.resolve().parent
    for folder in parent.iterdir() if parent.is_dir() else []:
        if folder.resolve() == model_dir.resolve() or not (folder / "manifest.json").is_file():
            continue
        try:
            manifest = read_manifest(folder)
            report = json.loads((folder / "eval_report.json").read_text("utf-8"))
        except (ModelError, OSError, json.JSONDecodeError):
            continue
        mine = headline(report.get("field_predicting"), manifest)
        merged = found.setdefault(manifest.version, {})
        merged.update({k: v for k, v in mine.items() if v is not None})
    for v, figures in REMEASURED.items():
        found.setdefault(v, {}).update(figures)
    mine_key = _version_key(version)
    return sorted(((v, f) for v, f in found.items() if _version_key(v) < mine_key),
                  key=lambda vf: _version_key(vf[0]))


def comparison(model_dir: Path, manifest: Manifest, fe: dict[str, Any] | None) -> list[str]:
    """The table of this version's figures beside the earlier versions'."""
    earlier = earlier_versions(model_dir, manifest.version)
    columns = [*earlier, (manifest.version, headline(fe, manifest))]
    lines = ["## This version beside the earlier ones", "",
             "| | " + " | ".join(v for v, _ in columns) + " |",
             "| --- |" + " --- |" * len(columns)]
    for key, what, show in ROWS:
        values = [f.get(key) for _, f in columns]
        if all(v is None for v in values):
            continue
        lines.append(f"| {what} | " + " | ".join(show(v) for v in values) + " |")
    lines += ["", "\u2013: not measured for that version. Earlier figures come from their "
              "folders when present, else from the figures recorded when they shipped "
              "(`models/card_field.py`); 2.0.0's field and leaf-crop figures were measured "
              "again on this version's field test split (1.1.0's are of its maize photos).", ""]
    return lines


def _farm_table(fe: dict[str, Any]) -> list[str]:
    lines = ["| photos | top-1 | disease right | crop right | healthy vs diseased | answered "
             "| confidently wrong |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for name in ("lab", "field"):
        if name not in fe or "farm" not in fe[name]:
            continue
        f = fe[name]["farm"]
        lines.append(
            f"| {name} ({fe[name]['count']}) | {_pct(fe[name]['top1'])} | "
            f"{_pct(f['disease']['top1'])} | {_pct(f['crop']['top1'])} | "
            f"{_pct(f['healthy_vs_diseased']['accuracy'])} | {_pct(f['label']['coverage'])} | "
            f"{_pct(f['label']['confidently_wrong'])} |")
    return [*lines, "", "*Answered*: share of photos above their class threshold (not "
            "\"uncertain\"); *confidently wrong*: answered and wrong, as a share of all "
            "photos.", ""]


def _risk_coverage(fe: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for name in ("lab", "field"):
        rows = _get(fe, name, "farm", "risk_coverage")
        if not rows:
            continue
        lines += [f"Selective accuracy against coverage on {name} photos, if one confidence "
                  "threshold applied to every class:", "",
                  "| threshold | answered | right when answered | confidently wrong |",
                  "| --- | --- | --- | --- |"]
        lines += [f"| {r['threshold']:.2f} | {_pct(r['coverage'])} | "
                  f"{_pct(r['selective_accuracy'])} | {_pct(r['confidently_wrong'])} |"
                  for r in rows]
        lines.append("")
    return lines


def _sweeps(fe: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for name in ("lab", "field"):
        sweep = _get(fe, name, "sweep")
        if not sweep:
            continue
        qualities = sweep["qualities"]
        below = sweep.get("below_best") or {}
        lines += [f"Top-1 on {name} photos resized (shorter side, px) and re-encoded as JPEG"
                  + (" (points below the best size at that quality)" if below else "") + ":",
                  "", "| px | " + " | ".join(f"quality {q}" for q in qualities) + " |",
                  "| --- |" + " --- |" * len(qualities)]
        for size, row in sweep["top1"].items():
            cells = [_pct(row[str(q)]) + (f" (−{100 * below[size][str(q)]:.1f})"
                                          if size in below else "") for q in qualities]
            lines.append(f"| {size} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def _out_of_scope(fe: dict[str, Any]) -> list[str]:
    oos = fe.get("out_of_scope")
    if not oos:
        return []
    kinds = ", ".join(f"{k.replace('_', ' ')} {_pct(v['answered'])}"
                      for k, v in oos["per_kind"].items())
    extra = (f"; {_pct(oos['answered_as_disease'])} named a disease"
             if "answered_as_disease" in oos else "")
    return [f"Out-of-scope images (generated, no leaf of a known crop; {oos['count']}): "
            f"**{_pct(oos['answered'])}** answered as a known class ({kinds}){extra}.", ""]


def _leave_field_out(fe: dict[str, Any]) -> list[str]:
    lfo = fe.get("leave_field_out")
    if not lfo:
        return []
    f = lfo["field"]
    warning = ([] if lfo.get("trained_without_field", True) else [
        "**Warning:** the model given as leave-field-out does not record training without "
        "field photos, so the figure below is not a leave-field-out figure.", ""])
    return [*warning, "**Leave-field-out.** A second model, trained the same way but with no field "
            f"photo ({lfo.get('version') or lfo['model']}), on all {f['count']} maize field "
            f"photos: top-1 **{_pct(f['top1'])}**, disease right "
            f"**{_pct(f['farm']['disease']['top1'])}**, answered "
            f"{_pct(f['farm']['label']['coverage'])}, confidently wrong "
            f"{_pct(f['farm']['label']['confidently_wrong'])}. This estimates what the "
            "shipped model does on a crop it has never seen in a field: every crop but maize.",
            ""]


def _other_farms(fe: dict[str, Any]) -> list[str]:
    """Leaf crops, per crop, leave-one-crop-out and the backbone comparison."""
    lines: list[str] = []
    crops = fe.get("field_crops")
    if crops:
        f = crops["farm"]["label"]
        lines += [f"**Single leaves.** The {crops['count']} leaf crops of the field test photos "
                  "(the boxes PlantDoc's authors drew, with a 10 % margin): top-1 "
                  f"**{_pct(crops['top1'])}**, answered {_pct(f['coverage'])}, confidently "
                  f"wrong {_pct(f['confidently_wrong'])}.", ""]
    per_crop = _get(fe, "field", "per_crop")
    if per_crop:
        lines += ["Field test photos by crop:", "", "| crop | top-1 | photos |",
                  "| --- | --- | --- |",
                  *[f"| {c.replace('_', ' ')} | {_pct(v['top1'])} | {v['photos']} |"
                    for c, v in per_crop.items()], ""]
    loco = fe.get("leave_crop_out")
    if loco:
        lines += ["**A crop never seen in a field** (leave-one-crop-out): "
                  f"{loco['method']}. Mean top-1 **{_pct(loco['mean_top1'])}**:", "",
                  "| crop left out | top-1 | crop right | photos |", "| --- | --- | --- | --- |",
                  *[f"| {c.replace('_', ' ')} | {_pct(v['top1'])} | {_pct(v['crop_right'])} | "
                    f"{v['photos']} |" for c, v in loco["per_crop"].items()], ""]
    backbones = fe.get("backbones")
    if backbones:
        sets = sorted({k for v in backbones.values() for k in v})
        lines += ["**Backbones compared** by the same softmax head on frozen ImageNet features "
                  "(no fine-tuning), trained on lab, field and leaf-crop training photos:", "",
                  "| backbone | " + " | ".join(s.replace("_", " ") for s in sets) + " |",
                  "| --- |" + " --- |" * len(sets),
                  *[f"| {name} | " + " | ".join(_pct(v.get(s)) for s in sets) + " |"
                    for name, v in backbones.items()], ""]
    return lines


def _cost(fe: dict[str, Any], manifest: Manifest) -> list[str]:
    c = fe.get("cost")
    seconds = training_seconds(manifest)
    lines = []
    if c:
        lines.append(f"**Cost.** {c['size_bytes'] / 1024:.0f} KiB int8 file; "
                     f"{c['multiply_adds'] / 1e6:.1f} M multiply-adds per photo (counted from "
                     "the .tflite graph); about **"
                     f"{c['pi4_ms_estimate']:.0f} ms** per photo on a Raspberry Pi 4, estimated "
                     f"as {c['pi4_method']}.")
    if seconds is not None:
        lines.append(f"Training took {seconds / 60:.0f} minutes on 2 CPU cores "
                     "(`training.json` of the run).")
    return [" ".join(lines), ""] if lines else []


def _floors(found: list[Floor]) -> list[str]:
    mark = {True: "PASS", False: "**FAIL**", None: "not measured"}
    return ["Floors (issue 19), measured on the `.tflite` file:", "",
            "| floor | measured | limit | |", "| --- | --- | --- | --- |",
            *[f"| {f.name} | {f.fmt(f.value)} | {'≥' if f.at_least else '≤'} "
              f"{f.fmt(f.limit)} | {mark[f.passed]} |" for f in found], ""]


def field_section(fe: dict[str, Any], manifest: Manifest | None = None,
                  model_dir: Path | None = None) -> list[str]:
    """Card lines for a ``model eval`` report; with the manifest and folder also the cost, the
    floors and the earlier versions."""
    lines = ["## Evaluation that predicts the field",
             "Measured by `agrifleet model eval` on the `.tflite` file "
             f"(split: {fe.get('split', 'test')}).", "",
             *_farm_table(fe), *_other_farms(fe), *_risk_coverage(fe), *_sweeps(fe),
             *_out_of_scope(fe), *_leave_field_out(fe)]
    if manifest is not None:
        lines += _cost(fe, manifest)
        lines += _floors(floors(fe))
        if model_dir is not None:
            lines += comparison(model_dir, manifest, fe)
    return lines
