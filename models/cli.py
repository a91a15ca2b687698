"""``agrifleet model``: train, evaluate, try, self-test and sign the crop-disease model.

Only argparse is imported here; TensorFlow (train extra) and the TFLite runtime (edge extra) are
imported when a command runs, so a missing one gives a one-line hint.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_commands(parser: argparse.ArgumentParser) -> None:
    """Register ``train``, ``eval``, ``release``, ``thresholds``, ``predict`` and the package
    commands (``keygen``, ``sign``, ``verify``, ``selftest``) under ``agrifleet model``."""
    sub = parser.add_subparsers(dest="model_command", metavar="ACTION", required=True)

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
    e.add_argument("--run", type=Path, metavar="RUN_DIR",
                   help="the model's fine-tuning run folder (model train --backbone): adds "
                   "leave-one-crop-out, a softmax head on its frozen features trained without "
                   "each crop's field photos and tested on them")
    e.add_argument("--compare-backbones", action="store_true",
                   help="with --run: also compare EfficientNet-Lite0 (whole and cut after "
                   "block 12) and MobileNetV2 by the same head on the field photos")
    e.set_defaults(func=_eval)

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
    r.add_argument("--run", type=Path, metavar="RUN_DIR",
                   help="the model's fine-tuning run folder (model train --backbone): adds "
                   "leave-one-crop-out, a softmax head on its frozen features trained without "
                   "each crop's field photos and tested on them")
    r.add_argument("--compare-backbones", action="store_true",
                   help="with --run: also compare EfficientNet-Lite0 (whole and cut after "
                   "block 12) and MobileNetV2 by the same head on the field photos")
    r.set_defaults(func=_release)

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
    _add_package_commands(sub)


def _add_package_commands(sub: argparse._SubParsersAction) -> None:
    k = sub.add_parser("keygen", help="make an Ed25519 key pair for signing model packages",
                       description="Write DIR/signing.key (private, mode 0600: keep it off "
                       "nodes and out of git) and DIR/signing.pub (give it to nodes and the "
                       "fleet).")
    k.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help="folder for signing.key and signing.pub (created if missing)")
    k.set_defaults(func=_keygen)

    s = sub.add_parser("sign", help="sign a model folder in place (lists its files in "
                       "manifest.json, writes manifest.sig)",
                       description="List every file of PACKAGE_DIR with its size and sha256 "
                       "in manifest.json and write manifest.sig (Ed25519, with the key id and "
                       "an expiry): nodes and the fleet accept only packages signed by a key "
                       "they trust.")
    s.add_argument("package", type=Path, metavar="PACKAGE_DIR",
                   help="a model folder with manifest.json, model.tflite and selftest/")
    s.add_argument("--key", type=Path, required=True, metavar="FILE", help="signing.key")
    s.add_argument("--expires-days", type=int, default=365, metavar="N",
                   help="nodes refuse the package after N days (default 365)")
    s.set_defaults(func=_sign)

    v = sub.add_parser("verify", help="check a package (folder or .tar.gz) as a node would: "
                       "signature, expiry, every file, and its self-test",
                       description="Check a package as a node or the fleet would before "
                       "installing it: a safe archive, the signature by a trusted key, the "
                       "expiry, the size and sha256 of every file, and its self-test.")
    v.add_argument("package", type=Path, metavar="PACKAGE",
                   help="a package folder or a .tar.gz archive of one")
    v.add_argument("--key", type=Path, nargs="+", required=True, metavar="PUB",
                   help="trusted public keys (signing.pub)")
    v.add_argument("--current", type=Path, metavar="DIR",
                   help="the model folder a node runs now: also check the package upgrades it")
    v.add_argument("--no-selftest", action="store_true", help="skip running the self-test")
    v.set_defaults(func=_verify)

    t = sub.add_parser("selftest", help="run a package's self-test, or (re)create it",
                       description="Without --class-medians or --images: classify the images "
                       "in PACKAGE_DIR/selftest/ and compare with answers.json. With one of "
                       "them: replace selftest/ and record this model's answers (sign again "
                       "afterwards).")
    t.add_argument("package", type=Path, metavar="PACKAGE_DIR",
                   help="the model folder whose selftest/ to run or create")
    how = t.add_mutually_exclusive_group()
    how.add_argument("--class-medians", type=Path, metavar="DATA_DIR",
                     help="photos, one folder per class: one median image per class")
    how.add_argument("--images", type=Path, nargs="+", metavar="IMAGE",
                     help="images to use (a parent folder named after a class labels one)")
    t.add_argument("--side", type=int, default=40, help="stored image side in px (default 40)")
    t.set_defaults(func=_selftest)

    from agrifleet.fleet_client import add_publish  # stdlib only: upload to a fleet over HTTP

    add_publish(sub)


def _train(args: argparse.Namespace) -> int:
    from models.card import write_card
    from models.fleet_photos import read_provenance
    from models.model_folder import check_floors, package
    from models.train import collect

    if args.field is not None:  # a broken provenance.csv is refused before hours of training
        try:
            read_provenance(args.field)
        except (ValueError, UnicodeDecodeError) as exc:
            print(f"agrifleet model train: {exc}")
            return 2
    out: Path = args.out
    work: Path = args.work or out.with_name(out.name + "-run")
    if args.backbone:
        from models.transfer import TransferSettings, train_transfer

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
    from models.train import TrainSettings, train

    knobs = {k: getattr(args, k) for k in ("size", "width", "epochs", "threads", "seed",
                                           "learning_rate", "augmentation", "views",
                                           "exclude_field", "outliers", "composite_share",
                                           "limit_per_class")}
    settings = TrainSettings(**{k: v for k, v in knobs.items() if v is not None},
                             init=str(args.init) if args.init else None)
    train(args.data, work, args.field, settings)


def _make_selftest(out: Path, data: Path) -> None:
    """Give a freshly trained model folder its selftest/, so it is a complete package."""
    from agrifleet.package import PackageError
    from models.selftest import shipped_kind_selftest

    try:
        answers = shipped_kind_selftest(out, data)
    except (PackageError, ValueError) as exc:
        print(f"no self-test written ({exc}); make one with agrifleet model selftest --images")
    else:
        print(f"self-test: {len(answers.images)} images in {out / 'selftest'}")


def _model_paths(model: Path | None) -> tuple[Path, Path | None]:
    """(the .tflite file, its model folder if it has a manifest)."""
    from models.shipped import default_model_dir

    model = model or default_model_dir()
    if model.is_dir():
        return model / "model.tflite", model
    folder = model.parent
    return model, folder if (folder / "manifest.json").is_file() else None


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

    from models.eval_report import REPORT_NAME, EvalOptions, UnknownClasses, floors_missed, run_eval
    from models.shipped import default_model_dir

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


def _release(args: argparse.Namespace) -> int:
    from agrifleet.inference.preprocess import ImageError
    from agrifleet.manifest import ModelError
    from agrifleet.package import PackageError
    from models.eval_report import floors_missed
    from models.release import ReleaseOptions, release

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


def _thresholds(args: argparse.Namespace) -> int:
    from agrifleet.inference.preprocess import ImageError
    from agrifleet.manifest import ModelError
    from models.model_folder import rethreshold
    from models.train import collect

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


def _predict(args: argparse.Namespace) -> int:
    import json

    from agrifleet.inference.classifier import Classifier
    from agrifleet.inference.preprocess import ImageError
    from agrifleet.manifest import ModelError
    from models.shipped import default_model_dir

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


def _keygen(args: argparse.Namespace) -> int:
    from agrifleet.package import PackageError, generate_keypair, load_public_keys

    try:
        key, pub = generate_keypair(args.out)
    except (PackageError, OSError) as exc:
        print(f"agrifleet model keygen: {exc}")
        return 2
    (kid,) = load_public_keys([pub])
    print(f"wrote {key} (private, mode 0600) and {pub} (public); key id {kid}")
    return 0


def _sign(args: argparse.Namespace) -> int:
    from agrifleet.manifest import ModelError
    from agrifleet.package import PackageError, sign_package

    try:
        sig = sign_package(args.package, args.key, expires_days=args.expires_days)
    except (PackageError, ModelError, OSError) as exc:
        print(f"agrifleet model sign: {exc}")
        return 2
    print(f"signed {args.package}: {sig.files} files, key {sig.key_id}, "
          f"expires {sig.expires_at:%Y-%m-%d}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    import tempfile

    from agrifleet.manifest import ModelError, read_manifest
    from agrifleet.package import PackageError, check_upgrade, load_public_keys, safe_extract
    from agrifleet.package import verify_package as verify

    with tempfile.TemporaryDirectory(prefix="agrifleet-verify-") as tmp:
        try:
            folder = args.package
            trusted = load_public_keys(args.key)
            if folder.is_file():
                folder = safe_extract(folder, Path(tmp) / "package")
            manifest = verify(folder, trusted)
            if args.current:
                check_upgrade(manifest, read_manifest(args.current))
            result = None
            if not args.no_selftest:
                from agrifleet.inference.selftest import run_selftest

                result = run_selftest(folder)
                result.raise_for_failures()
        except (PackageError, ModelError, OSError) as exc:
            reason = getattr(exc, "reason", "invalid_manifest")
            # Name the archive, not the temporary folder it was unpacked into.
            print(f"REFUSED ({reason}): {str(exc).replace(str(folder), str(args.package))}")
            return 1
    assert manifest.signing is not None
    print(f"OK {manifest.name} {manifest.version}: {len(manifest.files)} files, signed by "
          f"{manifest.signing.key_id}, expires {manifest.signing.expires_at:%Y-%m-%d}")
    if result is not None:
        print(result.summary())
    return 0


def _selftest(args: argparse.Namespace) -> int:
    from agrifleet.inference.preprocess import ImageError
    from agrifleet.inference.selftest import run_selftest
    from agrifleet.manifest import ModelError
    from agrifleet.package import PackageError
    from models.selftest import class_median_selftest, images_selftest

    try:
        if args.class_medians or args.images:
            if args.class_medians:
                answers = class_median_selftest(args.package, args.class_medians, side=args.side)
            else:
                answers = images_selftest(args.package, args.images, side=args.side)
            print(f"wrote {len(answers.images)} self-test images and answers to "
                  f"{args.package / 'selftest'}; sign the package again")
            return 0
        result = run_selftest(args.package)
    except (PackageError, ModelError, ImageError, ValueError, OSError) as exc:
        print(f"agrifleet model selftest: {exc}")
        return 2
    print(result.summary())
    for failure in result.failures[1:]:
        print(f"  {failure.image}: {failure.reason}")
    return 0 if result.ok else 1
