"""``agrifleet model``: train, evaluate, try, self-test and sign the crop-disease model.

Only argparse is imported here; TensorFlow (train extra) and the TFLite runtime (edge extra) are
imported when a command runs, so a missing one gives a one-line hint.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_commands(parser: argparse.ArgumentParser) -> None:
    """Register ``train``, ``eval``, ``release``, ``thresholds``, ``predict`` and the package
    commands (``keygen``, ``sign``, ``verify``, ``selftest``, ``publish``) under
    ``agrifleet model``; each command's arguments are declared beside its handler."""
    from agrifleet.models.package_cli import add_package_commands  # argparse only at module level

    sub = parser.add_subparsers(dest="model_command", metavar="ACTION", required=True)
    for add in (add_train, add_eval, add_release, add_thresholds, add_predict):
        add(sub)
    add_package_commands(sub)


def add_train(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``train``: from scratch or from a pretrained backbone, then the model folder."""
    t = sub.add_parser(
        "train", help="train, quantise to int8 and package a model (train extra)",
        description="Train the crop-disease network on labelled photos, quantise it to int8, "
        "evaluate the .tflite file and write the model folder with its manifest and card.",
    )
    t.add_argument("--data", type=Path, required=True, help="lab photos, one folder per class")
    t.add_argument("--field", type=Path, help="field photos (same class names) to train on "
                   "and to report separately; a folder of `agrifleet fleet "
                   "export-training-set` as it is (its provenance.csv counted on the card)")
    t.add_argument("--out", type=Path, required=True, help="model folder to write, e.g. "
                   "models/leaf-disease/1.2.0")
    t.add_argument("--work", type=Path, help="training run folder (default: OUT-run)")
    t.add_argument("--name", default="leaf-disease", help="model name (leaf-disease)")
    t.add_argument("--version", default=None, help="default: the name of the OUT folder")
    # Unset knobs take TrainSettings' defaults (the recipe of the shipped model).
    t.add_argument("--epochs", type=int, help="default 40")
    t.add_argument("--size", type=int, help="input side in pixels (default 128)")
    t.add_argument("--width", type=float, help="width multiplier (default 0.75)")
    t.add_argument("--threads", type=int, default=2, help="CPU threads (2)")
    t.add_argument("--seed", type=int, help="random seed of the split and training (0)")
    t.add_argument("--init", type=Path, help="continue from a previous run's model_float.keras")
    t.add_argument("--learning-rate", type=float, help="peak of the cosine schedule (2e-3)")
    t.add_argument("--augmentation", choices=["field", "mild", "composite"],
                   help="field: backgrounds, free rotation, blur (default); mild: flips, quarter "
                   "turns, light zoom and colour, for a final polishing run with --init; "
                   "composite: leaves cut out onto generated soil/foliage/gradient backgrounds, "
                   "perspective, camera blur, noise and JPEG")
    t.add_argument("--exclude-field", action="store_true", default=None,
                   help="train on no field photo (they are still split and evaluated): the "
                   "leave-field-out model for the field figure of an unseen crop")
    t.add_argument("--views", type=int, choices=[1, 2, 4],
                   help="mirrored copies of each photo the exported model averages over "
                   "(default 4: 4 passes per photo, about half a point on lab photos and "
                   "two on field photos)")
    t.add_argument("--outliers", type=int,
                   help="generated non-leaf images trained with a uniform target (outlier "
                   "exposure, models/outliers.py); default 0")
    t.add_argument("--composite-share", type=float,
                   help="share of lab photos the composite augmentation puts onto a generated "
                   "background (0.5)")
    t.add_argument("--limit-per-class", type=int, help="at most this many photos per class "
                   "and split (a quick trial run)")
    tr = t.add_argument_group(
        "pretrained backbone (the recipe of 3.0.0)",
        "With --backbone the network starts from ImageNet weights shipped in a registry "
        "package (models/pretrained.py); the blocks up to --freeze-through are frozen and "
        "their features cached in the run folder, the rest is fine-tuned on lab photos, field "
        "photos and their leaf crops (field/boxes.tsv). A stopped run resumes from the run "
        "folder.")
    tr.add_argument("--backbone", choices=["efficientnet-lite0", "mobilenet-v2"],
                    help="start from this ImageNet-pretrained network")
    tr.add_argument("--freeze-through", type=int, metavar="BLOCK",
                    help="last frozen block (default 12 of 0-15)")
    tr.add_argument("--cached-views", type=int, metavar="N",
                    help="augmented views cached per training photo (default 4)")
    tr.add_argument("--lab-per-view", type=int, metavar="N",
                    help="lab photos per cached view (default 4000)")
    t.add_argument("--field-weight", type=float, default=1.0, metavar="W",
                   help="thresholds: count each field validation photo W times in the "
                   "precision (default 1)")
    t.add_argument("--coverage", type=float, default=None, metavar="SHARE",
                   help="thresholds: the strictest precision target that still answers this "
                   "share of the lab validation photos (default: the fixed 97 %% target)")
    t.set_defaults(func=_train)


def _train(args: argparse.Namespace) -> int:
    from agrifleet.models.card import write_card
    from agrifleet.models.fleet_photos import read_provenance
    from agrifleet.models.model_folder import check_floors, package
    from agrifleet.models.train import collect

    if args.field is not None:  # a broken provenance.csv is refused before hours of training
        try:
            read_provenance(args.field)
        except (ValueError, UnicodeDecodeError) as exc:
            print(f"agrifleet model train: {exc}")
            return 2
    out: Path = args.out
    work: Path = args.work or out.with_name(out.name + "-run")
    if args.backbone:
        from agrifleet.models.transfer import TransferSettings, train_transfer

        chosen = {"backbone": args.backbone, "size": args.size, "epochs": args.epochs,
                  "threads": args.threads, "seed": args.seed,
                  "learning_rate": args.learning_rate, "outliers": args.outliers,
                  "composite_share": args.composite_share,
                  "limit_per_class": args.limit_per_class,
                  "freeze_through": args.freeze_through, "views": args.cached_views,
                  "lab_per_view": args.lab_per_view}
        train_transfer(args.data, work, args.field,
                       TransferSettings(**{k: v for k, v in chosen.items() if v is not None}))
    else:
        _train_from_scratch(args, work)
    _, lab, fld = collect(args.data, args.field)
    manifest = package(work, lab, fld, out, args.name, args.version or out.name, args.threads,
                       keep_float=not args.backbone, field_weight=args.field_weight,
                       coverage=args.coverage)
    write_card(out)
    _make_selftest(out, args.data)
    print(f"wrote {out} (sha256 {manifest.sha256[:12]}…); sign it with agrifleet model sign")
    return 1 if check_floors(manifest) else 0


def _train_from_scratch(args: argparse.Namespace, work: Path) -> None:
    from agrifleet.models.train import TrainSettings, train

    knobs = {k: getattr(args, k) for k in ("size", "width", "epochs", "threads", "seed",
                                           "learning_rate", "augmentation", "views",
                                           "exclude_field", "outliers", "composite_share",
                                           "limit_per_class")}
    settings = TrainSettings(**{k: v for k, v in knobs.items() if v is not None},
                             init=str(args.init) if args.init else None)
    train(args.data, work, args.field, settings)


def _make_selftest(out: Path, data: Path) -> None:
    """Give a freshly trained model folder its selftest/, so it is a complete package."""
    from agrifleet.models.selftest import shipped_kind_selftest
    from agrifleet.package import PackageError

    try:
        answers = shipped_kind_selftest(out, data)
    except (PackageError, ValueError) as exc:
        print(f"no self-test written ({exc}); make one with agrifleet model selftest --images")
    else:
        print(f"self-test: {len(answers.images)} images in {out / 'selftest'}")


def add_eval(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``eval`` command: a .tflite model over labelled photos, into a report."""
    e = sub.add_parser(
        "eval", help="evaluate a .tflite model on labelled photos",
        description="Run a .tflite model over labelled photos and write accuracy, per-class "
        "figures and confusion matrices, the figures a farm sees (disease and crop right, "
        "healthy or not, answered and confidently wrong), a size and JPEG-quality sweep, and "
        "the share of generated out-of-scope images it answers as a known class.",
    )
    e.add_argument("--data", type=Path, required=True, help="photos, one folder per class")
    e.add_argument("--field", type=Path, help="field photos, evaluated separately")
    e.add_argument("--model", type=Path, help="model folder or its .tflite (default: shipped)")
    e.add_argument("--split", choices=["train", "val", "test", "all"], default="test",
                   help="which split of the data to use (default: test; 'all' for new data)")
    e.add_argument("--report", type=Path, default=Path("model-eval"),
                   help="folder for eval_report.json and confusion PNGs (default: ./model-eval)")
    e.add_argument("--threads", type=int, default=2, help="interpreter threads (2)")
    e.add_argument("--no-sweep", action="store_true",
                   help="skip the size and JPEG-quality sweep (the slowest part)")
    e.add_argument("--out-of-scope", type=int, default=40, metavar="N",
                   help="generated images per kind for the out-of-scope rate, plus up to 6N "
                   "background corners of the field photos (default 40; 0 skips it)")
    e.add_argument("--seed", type=int, default=0, help="seed of the out-of-scope images (0)")
    e.add_argument("--leave-field-out", type=Path, metavar="MODEL_DIR",
                   help="a second model, trained with no field photo (model train "
                   "--exclude-field): evaluated on ALL field photos, for the field figure of a "
                   "crop never seen in a field; recorded in this model's report")
    e.add_argument("--check-floors", action="store_true",
                   help="exit 1 when the model misses a floor (they are always printed)")
    e.add_argument("--sweep-per-class", type=int, default=0, metavar="N",
                   help="sweep only the first N photos of each class (faster; default 0: all)")
    _add_run_figures(e)
    e.set_defaults(func=_eval)


def _add_run_figures(parser: argparse.ArgumentParser) -> None:
    """``--run`` and ``--compare-backbones``, the same for ``eval`` and ``release``."""
    parser.add_argument("--run", type=Path, metavar="RUN_DIR",
                        help="the model's fine-tuning run folder (model train --backbone): "
                        "adds leave-one-crop-out, a softmax head on its frozen features trained "
                        "without each crop's field photos and tested on them")
    parser.add_argument("--compare-backbones", action="store_true",
                        help="with --run: also compare EfficientNet-Lite0 (whole and cut after "
                        "block 12) and MobileNetV2 by the same head on the field photos")


def _eval(args: argparse.Namespace) -> int:
    from agrifleet.inference.preprocess import ImageError
    from agrifleet.manifest import ModelError

    try:
        return _run_eval(args)
    except (ImageError, ModelError, ValueError, OSError) as exc:
        print(f"agrifleet model eval: {exc}")
        return 2


def _run_eval(args: argparse.Namespace) -> int:
    import json

    from agrifleet.models.eval_report import (
        REPORT_NAME,
        EvalOptions,
        UnknownClasses,
        floors_missed,
        run_eval,
    )
    from agrifleet.models.shipped import default_model_dir

    options = EvalOptions(
        model=args.model or default_model_dir(), data=args.data, field=args.field,
        split=args.split, report=args.report, threads=args.threads, sweep=not args.no_sweep,
        out_of_scope=args.out_of_scope, seed=args.seed, leave_field_out=args.leave_field_out,
        sweep_per_class=args.sweep_per_class, run=args.run,
        compare_backbones=args.compare_backbones)
    try:
        report = run_eval(options)
    except UnknownClasses as exc:
        print(exc)
        return 2
    out = args.report / REPORT_NAME
    out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"report: {out}")
    return 1 if args.check_floors and floors_missed(report) else 0


def add_release(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``release`` command: evaluate, self-test, card and sign a trained folder."""
    r = sub.add_parser(
        "release", help="evaluate, self-test, card and sign a trained model folder in one go",
        description="Ship a folder written by model train: model eval on its test split "
        "(sweep, out-of-scope, the leave-field-out model on every field photo) into its "
        "eval_report.json, a new selftest/, MODEL_CARD.md with every figure beside the earlier "
        "versions, and the signature (with --key). Prints PASS/FAIL per floor.",
    )
    r.add_argument("model_dir", type=Path, metavar="MODEL_DIR",
                   help="the trained model folder, e.g. models/leaf-disease/2.0.0")
    r.add_argument("--data", type=Path, required=True, help="lab photos, one folder per class")
    r.add_argument("--field", type=Path, help="field photos (same class names)")
    r.add_argument("--leave-field-out", type=Path, metavar="DIR",
                   help="the model trained with --exclude-field (its model folder)")
    r.add_argument("--key", type=Path, metavar="FILE", help="signing.key: sign at the end")
    r.add_argument("--expires-days", type=int, default=365, metavar="N",
                   help="signature lifetime (default 365)")
    r.add_argument("--threads", type=int, default=2, help="interpreter threads (2)")
    r.add_argument("--no-sweep", action="store_true", help="skip the size and quality sweep")
    r.add_argument("--out-of-scope", type=int, default=40, metavar="N",
                   help="generated images per kind (default 40)")
    r.add_argument("--check-floors", action="store_true",
                   help="exit 1 when the model misses a floor")
    r.add_argument("--sweep-per-class", type=int, default=0, metavar="N",
                   help="sweep only the first N photos of each class (default 0: all)")
    _add_run_figures(r)
    r.set_defaults(func=_release)


def _release(args: argparse.Namespace) -> int:
    from agrifleet.inference.preprocess import ImageError
    from agrifleet.manifest import ModelError
    from agrifleet.models.eval_report import floors_missed
    from agrifleet.models.release import ReleaseOptions, release
    from agrifleet.package import PackageError

    try:
        report = release(ReleaseOptions(
            model_dir=args.model_dir, data=args.data, field=args.field,
            leave_field_out=args.leave_field_out, key=args.key, threads=args.threads,
            sweep=not args.no_sweep, out_of_scope=args.out_of_scope,
            expires_days=args.expires_days, sweep_per_class=args.sweep_per_class,
            run=args.run, compare_backbones=args.compare_backbones))
    except (ImageError, ModelError, PackageError, ValueError, OSError) as exc:
        print(f"agrifleet model release: {exc}")
        return 2
    return 1 if args.check_floors and floors_missed(report) else 0


def add_thresholds(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``thresholds`` command: choose a folder's confidence thresholds again."""
    h = sub.add_parser(
        "thresholds", help="choose a model folder's confidence thresholds again, in place",
        description="Run both .tflite files of a model folder on its validation photos and "
        "choose the per-class thresholds again: at the 97 % precision target, or with "
        "--coverage at the strictest target that still answers that share of the lab "
        "validation photos. Rewrites manifest.json and "
        "the train-time figures of eval_report.json; run model release afterwards (card, "
        "self-test, signature).",
    )
    h.add_argument("model_dir", type=Path, metavar="MODEL_DIR", help="the model folder")
    h.add_argument("--data", type=Path, required=True, help="lab photos, one folder per class")
    h.add_argument("--field", type=Path, help="field photos (same class names)")
    h.add_argument("--coverage", type=float, default=None, metavar="SHARE",
                   help="share of lab validation photos to answer, e.g. 0.955 (default: the "
                   "fixed 97 %% precision target)")
    h.add_argument("--field-weight", type=float, default=1.0, metavar="W",
                   help="count each field validation photo W times in the precision (default "
                   "1; the lab photos outnumber the field ones)")
    h.add_argument("--float", type=Path, metavar="FILE", dest="float_file",
                   help="the float model to measure beside int8 (default: the folder's float "
                   "reference; a pretrained model keeps it in its run folder)")
    h.add_argument("--threads", type=int, default=2, help="interpreter threads (2)")
    h.set_defaults(func=_thresholds)


def _thresholds(args: argparse.Namespace) -> int:
    from agrifleet.inference.preprocess import ImageError
    from agrifleet.manifest import ModelError
    from agrifleet.models.model_folder import rethreshold
    from agrifleet.models.train import collect

    coverage = args.coverage
    if coverage is not None and not 0.0 < coverage <= 1.0:
        print(f"agrifleet model thresholds: --coverage must be in (0, 1], not {coverage}")
        return 2
    try:
        _, lab, fld = collect(args.data, args.field)
        manifest = rethreshold(args.model_dir, lab, fld, args.threads, coverage,
                               args.field_weight, args.float_file)
    except (ImageError, ModelError, ValueError, OSError) as exc:
        print(f"agrifleet model thresholds: {exc}")
        return 2
    print(f"wrote {args.model_dir / 'manifest.json'}: {manifest.metrics['threshold_rule']}")
    if manifest.signing is not None:
        print("the folder was signed: sign it again (model release --key, or model sign)")
    return 0


def add_predict(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``predict`` command: classify photo files."""
    p = sub.add_parser(
        "predict", help="classify image files with the shipped model",
        description="Classify leaf photos and print the label, confidence and whether it is "
        "below the class's threshold (uncertain).",
    )
    p.add_argument("images", type=Path, nargs="+", metavar="IMAGE", help="photo files")
    p.add_argument("--model", type=Path, help="model folder (default: shipped)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--threads", type=int, default=2, help="interpreter threads (2)")
    p.set_defaults(func=_predict)


def _predict(args: argparse.Namespace) -> int:
    import json

    from agrifleet.inference.classifier import Classifier
    from agrifleet.inference.preprocess import ImageError
    from agrifleet.manifest import ModelError
    from agrifleet.models.shipped import default_model_dir

    try:
        classifier = Classifier.load(args.model or default_model_dir(), args.threads)
    except ModelError as exc:
        print(f"agrifleet model predict: {exc}")
        return 2
    status = 0
    for image in args.images:
        try:
            p = classifier.classify(image)
        except ImageError as exc:
            status = 1
            row = {"image": str(image), "error": str(exc)}
            print(json.dumps(row) if args.json else f"{image}: ERROR {exc}")
            continue
        if args.json:
            print(json.dumps({
                "image": str(image), "label": p.label, "confidence": round(p.confidence, 4),
                "uncertain": p.uncertain,
                "top3": [{"label": lb, "confidence": round(c, 4)} for lb, c in p.top3],
                "crop": p.crop.as_dict(), "disease": p.disease.as_dict(),
                "inference_ms": round(p.inference_ms, 2),
            }))
        else:
            extra = f" (best guess {p.best})" if p.uncertain else ""
            print(f"{image}: {p.label} {p.confidence:.2f}{extra}; "
                  f"disease {p.disease.name} {p.disease.confidence:.2f}, "
                  f"crop {p.crop.name} {p.crop.confidence:.2f}")
    return status
